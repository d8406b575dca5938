"""Building blocks shared by the restoration networks: flow warping, residual stacks, padding.

Module attribute names are part of the weight format (they become ``state_dict`` keys), so they
follow the reference layout (``main.0``, ``main.2.<i>.conv1``, ``upsample_conv`` ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def flow_warp(
    x: torch.Tensor,
    flow: torch.Tensor,
    padding_mode: str = "zeros",
    mode: str = "bilinear",
) -> torch.Tensor:
    """Sample ``x`` at the positions displaced by ``flow`` (backward warping).

    Output pixel (y, x) takes the value of ``x`` at (y + flow_y, x + flow_x), bilinearly
    interpolated with pixel centres on the integer grid (``align_corners=True``).

    Args:
        x: tensor (N, C, H, W) to sample from.
        flow: displacement in pixels, (N, 2, H, W); channel 0 is horizontal, 1 is vertical.
        padding_mode: ``grid_sample`` padding for samples outside the image (``zeros``/``border``).
        mode: ``grid_sample`` interpolation.

    Returns:
        The warped tensor, (N, C, H, W).
    """
    if x.shape[-2:] != flow.shape[-2:] or flow.shape[1] != 2:
        raise ValueError(f"flow_warp: flow {tuple(flow.shape)} does not fit x {tuple(x.shape)}")
    _, _, h, w = x.shape
    cols = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, w)
    rows = torch.arange(h, dtype=x.dtype, device=x.device).view(1, h, 1)
    pos_x = (cols + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    pos_y = (rows + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((pos_x, pos_y), dim=-1)
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=True)


def reflect_pad_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Reflect-pad the last two dims of ``x`` at the bottom/right up to ``height`` x ``width``.

    Padding wider than the input is applied in several reflect steps (mirror tiling), so any
    target size works for inputs of at least 2 x 2 pixels.
    """
    lead = x.shape[:-2]
    out = x.reshape(-1, 1, *x.shape[-2:]) if x.dim() != 4 else x
    while out.shape[-2] < height or out.shape[-1] < width:
        h, w = out.shape[-2:]
        if min(h, w) < 2:
            raise ValueError(f"cannot reflect-pad a {h}x{w} image to {height}x{width}")
        pad_h = min(height - h, h - 1) if h < height else 0
        pad_w = min(width - w, w - 1) if w < width else 0
        out = F.pad(out, (0, pad_w, 0, pad_h), mode="reflect")
    if x.dim() != 4:
        out = out.reshape(*lead, *out.shape[-2:])
    return out


class ResidualBlockNoBN(nn.Module):
    """conv-ReLU-conv with an identity shortcut (no normalisation)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        # A small initial residual keeps deep stacks close to identity at the start.
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, a=0.0, mode="fan_in")
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


class ResidualStack(nn.Module):
    """An input convolution (channel change) + LeakyReLU(0.1), then ``num_blocks`` residual blocks.

    Keys: ``main.0`` (input conv), ``main.2.<i>.conv1/conv2`` (blocks).
    """

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int) -> None:
        super().__init__()
        blocks = nn.Sequential(*(ResidualBlockNoBN(out_channels) for _ in range(num_blocks)))
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            blocks,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class PixelShuffleUp(nn.Module):
    """3x3 convolution to ``out * scale**2`` channels followed by pixel shuffle (x ``scale``)."""

    def __init__(self, in_channels: int, out_channels: int, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.upsample_conv = nn.Conv2d(in_channels, out_channels * scale * scale, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.upsample_conv(x), self.scale)
