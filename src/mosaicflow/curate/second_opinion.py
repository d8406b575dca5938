"""A second opinion on a clip's region: the ``nudenet`` detector (the ONNX model inside its
wheel, read from the installed package; nothing is downloaded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

#: The detector's classes that mark an exposed body part or a face (its full label set is
#: ``nudenet.nudenet.__labels``).
DEFAULT_CLASSES = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)


def nudenet_labels() -> tuple[str, ...]:
    """Every class name the installed detector knows."""
    import nudenet.nudenet as module

    return tuple(vars(module)["__labels"])


class NudeNetOpinion:
    """Boxes of the configured classes on RGB frames.

    Args:
        classes: class names to keep (must be the detector's).
        min_score: lowest detection score kept.
        model: the ONNX file (default: the installed package's ``320n.onnx``).

    Raises:
        ValueError: an unknown class name (lists the known ones).
    """

    def __init__(
        self, classes: Sequence[str], min_score: float, model: str | Path | None = None
    ) -> None:
        from nudenet import NudeDetector

        from mosaicflow.yolo.bases import nudenet_onnx

        known = nudenet_labels()
        unknown = sorted(set(classes) - set(known))
        if unknown:
            raise ValueError(f"unknown nudenet classes {unknown}; the detector knows {known}")
        self.classes = frozenset(classes)
        self.min_score = float(min_score)
        self.model = Path(model) if model else nudenet_onnx()
        self._detector = NudeDetector(model_path=str(self.model))

    def boxes(self, frame: np.ndarray) -> np.ndarray:
        """``(N, 4)`` xyxy boxes of the kept classes on one RGB frame."""
        found = self._detector.detect(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        keep = [
            (x, y, x + w, y + h)
            for d in found
            if d["class"] in self.classes and d["score"] >= self.min_score
            for x, y, w, h in [d["box"]]
        ]
        return np.asarray(keep, np.float64).reshape(-1, 4)

    def __call__(self, frames: np.ndarray) -> list[np.ndarray]:
        return [self.boxes(frame) for frame in frames]
