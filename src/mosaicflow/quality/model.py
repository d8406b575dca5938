"""The source-quality network: a small CNN whose first layer works at full resolution."""

from __future__ import annotations

import torch
from torch import nn


class QualityNet(nn.Module):
    """Four 3x3 convolutions with batch norm (the first at full resolution, the others stride
    2), average and max pooling, one linear layer to the class logits."""

    def __init__(self, classes: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [3, width, 2 * width, 4 * width, 4 * width]
        for i in range(4):
            stride = 1 if i == 0 else 2
            layers += [
                nn.Conv2d(channels[i], channels[i + 1], 3, stride, 1, bias=False),
                nn.BatchNorm2d(channels[i + 1]),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * channels[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, classes)`` of uint8-range RGB crops ``(N, 3, H, W)`` as float."""
        f = self.features(x / 255.0 - 0.5)
        return self.head(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1))


def to_tensor(crops: list | tuple) -> torch.Tensor:
    """Stack uint8 RGB crops ``(H, W, 3)`` into a float tensor ``(N, 3, H, W)``."""
    import numpy as np

    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
