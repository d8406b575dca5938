"""The nudenet detector inside its wheel (``320n.onnx``, read from the installed package; nothing
is downloaded): its class names and its detections on RGB frames."""

from __future__ import annotations

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
