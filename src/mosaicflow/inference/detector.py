"""The default detector: a YOLO segmentation model (ultralytics), run offline and batched."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.inference.protocols import Detections
from mosaicflow.yolo.adapter import DEFAULT_IMGSZ, ModelFileError, open_model, precision_kwargs
from mosaicflow.yolo.classes import classes_kwargs, restored_by_default

log = logging.getLogger(__name__)

#: Model files ultralytics loads as trained models (a ``.yaml`` would build an untrained one).
MODEL_SUFFIXES = (".pt",)


@dataclass(frozen=True)
class DetectorSettings:
    """The ``detector`` section's inference keys a restore run reads besides the threshold (rule
    ``restore_test_video`` takes that from the detector's card: chosen on validation, or
    ``detector.conf``).

    Attributes:
        iou: NMS IoU threshold.
        imgsz: inference size (None: the size the detector was trained at).
        half: fp16 inference (CUDA only).
    """

    iou: float
    imgsz: int | None
    half: bool

    @classmethod
    def params(cls, detector: Mapping[str, Any]) -> dict[str, Any]:
        """The rule's params: these keys of the (validated) ``detector`` section."""
        from mosaicflow.config import canonical

        return canonical({field.name: detector[field.name] for field in fields(cls)})


class DetectorError(ModelFileError):
    """A detector file that is missing or not a YOLO segmentation model (names the file)."""


def restored_classes(
    names: Mapping[int, str], wanted: Sequence[str] | None, path: Path
) -> dict[int, str]:
    """The detector classes a restore acts on, by id.

    Args:
        names: the model's class names by id.
        wanted: class names to restore; None: every class but censored faces and heads
            (:func:`mosaicflow.yolo.classes.restored_by_default`).
        path: the model file (named in errors).

    Raises:
        DetectorError: a wanted name the model does not have (names the file and its classes).
    """
    if wanted is None:
        return restored_by_default(names)
    unknown = sorted(set(wanted) - set(names.values()))
    if unknown:
        raise DetectorError(
            f"{path}: the detector has no class {', '.join(map(repr, unknown))} "
            f"(its classes: {', '.join(names.values())})"
        )
    return {i: n for i, n in names.items() if n in set(wanted)}


class YoloDetector:
    """Mosaic detection with a YOLO segmentation model (masks at the frame's resolution).

    Args:
        weights: the trained model (``.pt``).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        conf: confidence threshold.
        iou: NMS IoU threshold.
        imgsz: inference size (``None``: the size the model was trained at, else 640).
        half: fp16 inference (CUDA only).
        threads: CPU threads of torch.
        config_dir: ultralytics' settings folder (``None``: ``$YOLO_CONFIG_DIR``, else a
            temporary one; see :func:`mosaicflow.yolo.adapter.open_model`).
        origin: the option or config key ``weights`` came from (named in errors).
        classes: the class names to detect (:func:`restored_classes`; None: every class but
            censored faces and heads).

    Attributes:
        classes: the class names detected, by id.

    Raises:
        DetectorError: the file is missing, refused by the restricted unpickler
            (:mod:`mosaicflow.yolo.checkpoint`), not loadable by ultralytics, or not a
            segmentation model; a class it does not have.
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        device: str = "auto",
        conf: float = 0.25,
        iou: float = 0.7,
        imgsz: int | None = None,
        half: bool = False,
        threads: int = 1,
        config_dir: str | Path | None = None,
        origin: str | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        try:
            self.yolo = open_model(
                weights, task="segment", config_dir=config_dir, threads=threads, device=device,
                origin=origin, suffixes=MODEL_SUFFIXES,
            )  # fmt: skip
        except ModelFileError as err:
            raise DetectorError(str(err)) from err
        self.path = Path(weights)
        self.model = self.yolo.model
        self.device = self.yolo.device
        self.imgsz = int(imgsz or self.yolo.trained_imgsz or DEFAULT_IMGSZ)
        self.kwargs = {
            "imgsz": self.imgsz,
            "conf": conf,
            "iou": iou,
            **precision_kwargs(half, str(self.device)),
        }
        names = {int(i): str(n) for i, n in dict(getattr(self.model, "names", {})).items()}
        self.classes = restored_classes(names, classes, self.path)
        self.kwargs |= classes_kwargs(names, self.classes)  # the others dropped before NMS

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in RGB frames (one batched call); one :class:`Detections` per frame."""
        if not frames:
            return []
        import cv2

        bgr = [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in frames]  # one SIMD pass
        return self.yolo.detections(bgr, **self.kwargs)
