"""Stand-ins for ultralytics results (boxes, masks) so the table code runs without a model, and
a tiny segmentation set for the tests that train."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def box_dataset(root: Path) -> Path:
    """A tiny YOLO segmentation set: a white box on noise, 4 train and 2 val images of 64 px."""
    import cv2

    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("val", 2)):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for i in range(count):
            image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
            cv2.rectangle(image, (16, 16), (40, 44), (255, 255, 255), -1)
            cv2.imwrite(str(root / split / "images" / f"{i}.png"), image)
            (root / split / "labels" / f"{i}.txt").write_text(
                "0 0.25 0.25 0.625 0.25 0.625 0.6875 0.25 0.6875\n"
            )
    (root / "data.yaml").write_text("path: .\ntrain: train/images\nval: val/images\nnames: [box]\n")
    return root
