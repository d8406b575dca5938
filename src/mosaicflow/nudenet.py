"""The nudenet detector inside its wheel (``320n.onnx``, read from the installed package; nothing
is downloaded): its class names and its detections on RGB frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


def nudenet_labels() -> tuple[str, ...]:
    """Every class name the installed detector knows."""
    import nudenet.nudenet as module

    return tuple(vars(module)["__labels"])


def check_labels(classes: tuple[str, ...] | list[str], key: str) -> None:
    """Refuse class names the detector does not know, naming ``key`` and the known ones.

    Raises:
        ValueError: an unknown class name.
    """
    known = nudenet_labels()
    unknown = sorted(set(classes) - set(known))
    if unknown:
        raise ValueError(f"{key}: unknown nudenet classes {unknown}; the detector knows {known}")


@dataclass(frozen=True)
class Found:
    """One detection: its class, score and ``(x0, y0, x1, y1)`` box in frame pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]


class NudeNet:
    """The detector on RGB frames.

    Args:
        model: the ONNX file (default: the installed package's ``320n.onnx``).
    """

    def __init__(self, model: str | Path | None = None) -> None:
        from nudenet import NudeDetector

        from mosaicflow.yolo.bases import nudenet_onnx

        self.model = Path(model) if model else nudenet_onnx()
        self._detector = NudeDetector(model_path=str(self.model))

    def detect(self, frame: np.ndarray) -> list[Found]:
        """Every detection on one RGB uint8 frame."""
        found = self._detector.detect(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        return [
            Found(d["class"], float(d["score"]), (float(x), float(y), float(x + w), float(y + h)))
            for d in found
            for x, y, w, h in [d["box"]]
        ]

    def found(self, frame: np.ndarray, classes: Sequence[str], min_score: float) -> list[Found]:
        """The detections of ``classes`` at ``min_score`` or above on one RGB frame, best
        first."""
        kept = [f for f in self.detect(frame) if f.label in classes and f.score >= min_score]
        return sorted(kept, key=lambda f: -f.score)


class ClassFinder:
    """The detector's detections of some classes at a least score.

    Args:
        classes: the class names to keep.
        min_score: the least score kept.
        key: the config key that names the classes (in errors).
        model: the ONNX file (default: the installed package's ``320n.onnx``).

    Raises:
        ValueError: a class the detector does not know (names the key and the known ones).
    """

    def __init__(
        self, classes: Sequence[str], min_score: float, key: str, model: str | Path | None = None
    ) -> None:
        check_labels(list(classes), key)
        self.classes, self.min_score = tuple(classes), min_score
        self._detector = NudeNet(model)
        self.model = self._detector.model

    def found(self, frame: np.ndarray) -> list[Found]:
        """The detections of the classes at ``min_score`` or above on one RGB frame, best
        first."""
        return self._detector.found(frame, self.classes, self.min_score)
