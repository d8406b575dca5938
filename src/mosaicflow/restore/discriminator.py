"""Stage-2 discriminator: a U-Net with spectral normalisation (per-pixel real/fake logits).

Encoder: a 3x3 input conv and three stride-2 4x4 convs (C -> 2C -> 4C -> 8C); decoder: three
bilinear x2 upsamplings, each followed by a 3x3 conv and (optionally) a skip addition from the
encoder level of the same size; two more 3x3 convs and a 1-channel 3x3 output conv. All convs
but the first and the last are spectrally normalised with the legacy
``torch.nn.utils.spectral_norm`` hook, whose ``weight_orig``/``weight_u``/``weight_v`` names are
the reference weight format.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


def _sn_conv(cin: int, cout: int, kernel: int, stride: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, kernel, stride, 1, bias=False))


class UNetDiscriminatorWithSpectralNorm(nn.Module):
    """U-Net discriminator; input sides must be multiples of 8.

    Args:
        in_channels: image channels.
        mid_channels: channels of the first level (64 in the reference).
        skip_connection: add encoder features to the decoder features of the same size.
    """

    def __init__(self, in_channels: int = 3, mid_channels: int = 64, skip_connection: bool = True):
        super().__init__()
        c = mid_channels
        self.skip_connection = skip_connection
        self.conv_0 = nn.Conv2d(in_channels, c, 3, 1, 1)
        self.conv_1 = _sn_conv(c, 2 * c, 4, 2)
        self.conv_2 = _sn_conv(2 * c, 4 * c, 4, 2)
        self.conv_3 = _sn_conv(4 * c, 8 * c, 4, 2)
        self.conv_4 = _sn_conv(8 * c, 4 * c, 3, 1)
        self.conv_5 = _sn_conv(4 * c, 2 * c, 3, 1)
        self.conv_6 = _sn_conv(2 * c, c, 3, 1)
        self.conv_7 = _sn_conv(c, c, 3, 1)
        self.conv_8 = _sn_conv(c, c, 3, 1)
        self.conv_9 = nn.Conv2d(c, 1, 3, 1, 1)

    @staticmethod
    def _act(x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.2)

    @staticmethod
    def _up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1, H, W) for images (N, C, H, W); H and W must be multiples of 8."""
        if img.dim() != 4 or img.shape[-1] % 8 or img.shape[-2] % 8:
            raise ValueError(f"expected (N, C, H, W) with H, W multiples of 8, got {img.shape}")
        e0 = self._act(self.conv_0(img))
        e1 = self._act(self.conv_1(e0))
        e2 = self._act(self.conv_2(e1))
        e3 = self._act(self.conv_3(e2))
        d = e3
        for conv, skip in ((self.conv_4, e2), (self.conv_5, e1), (self.conv_6, e0)):
            d = self._act(conv(self._up(d)))
            if self.skip_connection:
                d = d + skip
        d = self._act(self.conv_7(d))
        d = self._act(self.conv_8(d))
        return self.conv_9(d)
