"""SPyNet optical flow (Ranjan & Black, CVPR 2017) as used by BasicVSR++.

A six-level image pyramid; at every level (coarse to fine) a small CNN predicts a flow residual
from the reference image, the support image warped by the current flow and the flow itself.
Parameter names follow the reference layout (``basic_module.<level>.basic_module.<i>.conv``,
buffers ``mean``/``std``), so published SPyNet weights load with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mosaicflow.restore.layers import flow_warp

LEVELS = 6
_CHANNELS = (8, 32, 64, 32, 16, 2)  # in: ref (3) + warped support (3) + flow (2)


class _ConvUnit(nn.Module):
    """7x7 convolution with an optional ReLU; the ``conv`` attribute gives the weight names."""

    def __init__(self, cin: int, cout: int, relu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 7, 1, 3)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class SPyNetLevel(nn.Module):
    """The flow-residual CNN of one pyramid level: five 7x7 convs, 8 -> 2 channels."""

    def __init__(self) -> None:
        super().__init__()
        last = len(_CHANNELS) - 2
        self.basic_module = nn.Sequential(
            *(
                _ConvUnit(_CHANNELS[i], _CHANNELS[i + 1], relu=i < last)
                for i in range(len(_CHANNELS) - 1)
            )
        )

    @property
    def last_conv(self) -> nn.Conv2d:
        return self.basic_module[-1].conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basic_module(x)


class SPyNet(nn.Module):
    """Flow from a reference frame to a support frame; inputs are RGB in [0, 1].

    Without pretrained weights the last convolution of every level starts at zero, so the
    network starts by predicting zero flow (instead of noise) and learns from there; all
    parameters stay trainable. Load published weights with
    :func:`mosaicflow.restore.weights.load_spynet_weights`.

    The forward pass reads no tensor values on the host and builds no tensors from host data,
    so it can be captured in a CUDA graph; its ops depend only on the input shape.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.basic_module = nn.ModuleList(SPyNetLevel() for _ in range(LEVELS))
        self.zero_init_last()

    def zero_init_last(self) -> None:
        """Zero the last convolution of every level (the network then outputs zero flow)."""
        for level in self.basic_module:
            nn.init.zeros_(level.last_conv.weight)
            nn.init.zeros_(level.last_conv.bias)

    def _pyramid_flow(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """Coarse-to-fine flow for images whose sides are multiples of 2**(LEVELS-1)."""
        refs = [(ref - self.mean) / self.std]
        supps = [(supp - self.mean) / self.std]
        for _ in range(LEVELS - 1):
            refs.append(F.avg_pool2d(refs[-1], 2, 2, count_include_pad=False))
            supps.append(F.avg_pool2d(supps[-1], 2, 2, count_include_pad=False))
        n = ref.shape[0]
        flow = ref.new_zeros(n, 2, *refs[-1].shape[-2:])
        for level, (r, s) in enumerate(zip(reversed(refs), reversed(supps), strict=True)):
            if level == 0:
                up = flow
            else:
                # doubling the resolution doubles the displacement in pixels
                up = 2.0 * F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True)
            warped = flow_warp(s, up, padding_mode="border")
            flow = up + self.basic_module[level](torch.cat([r, warped, up], dim=1))
        return flow

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """Estimate the flow that warps ``supp`` onto ``ref``.

        Args:
            ref: reference frames (N, 3, H, W), RGB in [0, 1].
            supp: support frames, same shape.

        Returns:
            Flow (N, 2, H, W) in pixels (channel 0 horizontal).
        """
        h, w = ref.shape[-2:]
        step = 2 ** (LEVELS - 1)
        h_up, w_up = -(-h // step) * step, -(-w // step) * step
        if (h_up, w_up) == (h, w):
            # resizing to the same size and scaling by 1 are exact no-ops: skip their kernels
            return self._pyramid_flow(ref, supp)
        ref_up = F.interpolate(ref, size=(h_up, w_up), mode="bilinear", align_corners=False)
        supp_up = F.interpolate(supp, size=(h_up, w_up), mode="bilinear", align_corners=False)
        flow = F.interpolate(
            self._pyramid_flow(ref_up, supp_up), size=(h, w), mode="bilinear", align_corners=False
        )
        # Python-float factors per channel: a tensor built from a list here would be a
        # host-to-device copy, which a CUDA graph cannot capture
        return torch.stack((flow[:, 0] * (w / w_up), flow[:, 1] * (h / h_up)), dim=1)
