"""Stand-ins for ultralytics results (boxes, masks) so the table code runs without a model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FakeBoxes:
    xyxy: torch.Tensor
    conf: torch.Tensor
    cls: torch.Tensor
    id: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.conf)


@dataclass
class FakeMasks:
    data: torch.Tensor


@dataclass
class FakeResult:
    boxes: FakeBoxes | None
    masks: FakeMasks | None


def fake_result(masks: list[np.ndarray], scores: list[float], ids: list[int] | None = None):
    """A segmentation result whose boxes are the masks' bounding boxes."""
    if not masks:
        return FakeResult(
            FakeBoxes(torch.zeros((0, 4)), torch.zeros(0), torch.zeros(0), None), None
        )
    boxes = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return FakeResult(
        FakeBoxes(
            torch.tensor(boxes, dtype=torch.float32),
            torch.tensor(scores, dtype=torch.float32),
            torch.zeros(len(masks)),
            torch.tensor(ids) if ids is not None else None,
        ),
        FakeMasks(torch.tensor(np.stack(masks).astype(np.float32))),
    )


def disc(height: int, width: int, cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
