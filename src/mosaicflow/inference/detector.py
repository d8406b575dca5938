"""The default detector: a YOLO segmentation model (ultralytics), run offline and batched."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.inference.protocols import Detections

log = logging.getLogger(__name__)

#: Model files ultralytics loads as trained models (a ``.yaml`` would build an untrained one).
MODEL_SUFFIXES = (".pt",)
DEFAULT_IMGSZ = 640


class DetectorError(ValueError):
    """A detector file that is missing or not a YOLO segmentation model (names the file)."""


def trained_imgsz(model: Any) -> int | None:
    """The image size the model was trained at, from its checkpoint's training arguments."""
    args = (getattr(model, "ckpt", None) or {}).get("train_args") or {}
    imgsz = args.get("imgsz") if isinstance(args, dict) else None
    if isinstance(imgsz, list | tuple):
        imgsz = max(imgsz) if imgsz else None
    return int(imgsz) if isinstance(imgsz, int | float) and imgsz > 0 else None


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
            temporary one; see :func:`mosaicflow.yolo.offline.prepare_ultralytics`).
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
        from mosaicflow.devices import ultralytics_device
        from mosaicflow.yolo.checkpoint import CheckpointError, load_yolo
        from mosaicflow.yolo.offline import prepare_ultralytics

        path = Path(weights)
        if not path.is_file():
            raise DetectorError(f"{path}: no such detector file")
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise DetectorError(
                f"{path}: not a YOLO model file (expected {', '.join(MODEL_SUFFIXES)})"
            )
        self._settings_dir: tempfile.TemporaryDirectory[str] | None = None
        if config_dir is None:
            config_dir = os.environ.get("YOLO_CONFIG_DIR") or None
        if config_dir is None:  # removed with the detector
            self._settings_dir = tempfile.TemporaryDirectory(prefix="mosaicflow-ultralytics-")
            config_dir = self._settings_dir.name
        prepare_ultralytics(config_dir, threads)
        try:
            model = load_yolo(path, "segment", origin=origin)
        except CheckpointError as err:  # names the file, its origin and why
            raise DetectorError(str(err)) from err
        except Exception as err:  # ultralytics raises many kinds; all mean "not a model"
            raise DetectorError(f"{path}: not a YOLO model ({type(err).__name__}: {err})") from err
        if getattr(model, "task", None) != "segment":
            raise DetectorError(
                f"{path}: a YOLO {getattr(model, 'task', '?')} model, not a segmentation model"
            )
        self.path = path
        self.model = model
        self.device = ultralytics_device(device)
        self.imgsz = int(imgsz or trained_imgsz(model) or DEFAULT_IMGSZ)
        self.kwargs = {
            "imgsz": self.imgsz,
            "conf": conf,
            "iou": iou,
            "device": self.device,
            "half": bool(half and self.device != "cpu"),
            "retina_masks": True,  # masks at the frame's size, not the network's
            "verbose": False,
        }

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in RGB frames (one batched call); one :class:`Detections` per frame."""
        if not frames:
            return []
        import cv2

        bgr = [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in frames]  # one SIMD pass
        results = self.model.predict(bgr, **self.kwargs)
        pairs = zip(results, frames, strict=True)
        return [_detections(result, frame.shape[:2]) for result, frame in pairs]


def _detections(result: Any, shape: tuple[int, int]) -> Detections:
    """One ultralytics result -> :class:`Detections` at the frame's size."""
    height, width = shape
    if result.masks is None or result.boxes is None or len(result.boxes) == 0:
        return Detections.none(height, width)
    masks = result.masks.data.cpu().numpy() > 0.5
    if masks.shape[1:] != (height, width):  # retina masks match the frame; be safe anyway
        import cv2

        masks = np.stack(
            [
                cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
                for m in masks
            ]
        )
    scores = result.boxes.conf.cpu().numpy().astype(np.float32)
    return Detections(masks, scores)
