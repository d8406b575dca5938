"""A second opinion on a clip's region: the ``nudenet`` detector (the ONNX model inside its
wheel, read from the installed package; nothing is downloaded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mosaicflow.nudenet import ClassFinder, nudenet_labels

__all__ = ["DEFAULT_CLASSES", "NudeNetOpinion", "nudenet_labels"]

#: The detector's classes that mark an exposed body part or a face (its full label set is
#: ``nudenet.nudenet.__labels``).
DEFAULT_CLASSES = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)


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
        self._finder = ClassFinder(classes, min_score, "review.nudenet.classes", model)
        self.classes, self.min_score = frozenset(classes), float(min_score)
        self.model = self._finder.model

    def boxes(self, frame: np.ndarray) -> np.ndarray:
        """``(N, 4)`` xyxy boxes of the kept classes on one RGB frame."""
        keep = [f.box for f in self._finder.found(frame)]
        return np.asarray(keep, np.float64).reshape(-1, 4)

    def __call__(self, frames: np.ndarray) -> list[np.ndarray]:
        return [self.boxes(frame) for frame in frames]
