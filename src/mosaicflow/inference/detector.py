"""The default detector: a YOLO segmentation model (ultralytics), run offline and batched."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.inference.protocols import Detections
from mosaicflow.yolo.adapter import DEFAULT_IMGSZ, ModelFileError, open_model

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

    Raises:
        DetectorError: the file is missing, refused by the restricted unpickler
            (:mod:`mosaicflow.yolo.checkpoint`), not loadable by ultralytics, or not a
            segmentation model.
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
            "half": bool(half and self.device != "cpu"),
        }

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in RGB frames (one batched call); one :class:`Detections` per frame."""
        if not frames:
            return []
        import cv2

        bgr = [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in frames]  # one SIMD pass
        return self.yolo.detections(bgr, **self.kwargs)
