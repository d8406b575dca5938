"""The one way into ultralytics: a YOLO model loaded offline and restricted, on its device with
the job's threads, and its predictions as :class:`Detections`.

- :func:`open_model`: prepare ultralytics (:func:`~mosaicflow.yolo.offline.prepare_ultralytics`:
  settings in the job's folder, local fonts, threads), load the file through the restricted
  reader (:func:`~mosaicflow.yolo.checkpoint.load_yolo`) and check its task; errors name the
  file and the option or config key it came from.
- :class:`YoloModel`: the loaded model with its ultralytics device; :meth:`YoloModel.predict`
  runs it on BGR images, :meth:`YoloModel.detections` returns one :class:`Detections` per image.
- :class:`Detections`: one frame's instances: scores, boxes and, from a segmentation model,
  masks at the frame's resolution.

Training, validation and export use the loaded ultralytics object (:attr:`YoloModel.model`),
or :func:`prepare_ultralytics` and :func:`load_yolo` where ultralytics loads the model itself
(a training run, a resume): every module outside this one, ``checkpoint`` and ``offline`` reaches
ultralytics through here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.formats.boxes import mask_box
from mosaicflow.yolo.checkpoint import CheckpointError, load_yolo
from mosaicflow.yolo.offline import prepare_ultralytics

__all__ = [
    "DEFAULT_IMGSZ", "Detections", "ModelFileError", "YoloModel", "load_yolo", "open_model",
    "prepare_ultralytics", "result_detections", "trained_imgsz",
]  # fmt: skip

#: Inference size of a model whose checkpoint does not say what it was trained at.
DEFAULT_IMGSZ = 640


class ModelFileError(ValueError):
    """A model file that is missing, refused, not loadable or of the wrong task (names it)."""


@dataclass(frozen=True)
class Detections:
    """The instances found in one frame.

    Attributes:
        masks: ``(N, H, W)`` bool masks at the frame's resolution (``N`` may be 0); a detection
            model's (or a run that asked for boxes only) are ``(N, 0, 0)``.
        scores: ``(N,)`` confidences (ones when the model gives none).
        boxes: ``(N, 4)`` xyxy pixel boxes, or None (:meth:`xyxy` derives them from the masks).
    """

    masks: np.ndarray
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    boxes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.masks.ndim != 3:
            raise ValueError(f"masks must be (N, H, W), got shape {self.masks.shape}")
        if len(self.scores) != len(self.masks):
            object.__setattr__(self, "scores", np.ones(len(self.masks), np.float32))
        if self.boxes is not None and self.boxes.shape != (len(self.masks), 4):
            raise ValueError(f"boxes must be ({len(self.masks)}, 4), got {self.boxes.shape}")

    def xyxy(self) -> np.ndarray:
        """``(N, 4)`` xyxy pixel boxes: the given ones, else each mask's bounding box."""
        return self.boxes if self.boxes is not None else _mask_boxes(self.masks)

    @classmethod
    def none(cls, height: int, width: int) -> Detections:
        """No detection in a ``height x width`` frame."""
        return cls(np.zeros((0, height, width), bool), np.zeros(0, np.float32))

    @classmethod
    def from_masks(cls, *masks: np.ndarray) -> Detections:
        """Detections from 2-D masks (non-zero = mosaic), each with score 1."""
        if not masks:
            raise ValueError("from_masks needs at least one mask (use Detections.none)")
        stacked = np.stack([np.asarray(m) > 0 for m in masks])
        return cls(stacked, np.ones(len(masks), np.float32))

    @classmethod
    def from_boxes(cls, boxes: np.ndarray, scores: np.ndarray) -> Detections:
        """Detections without masks: ``(N, 4)`` xyxy boxes and their scores."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return cls(np.zeros((len(boxes), 0, 0), bool), np.asarray(scores).reshape(-1), boxes)


def _mask_boxes(masks: np.ndarray) -> np.ndarray:
    """The xyxy box of each mask (zeros for an empty mask)."""
    boxes = np.zeros((len(masks), 4), np.float64)
    for i, mask in enumerate(masks):
        boxes[i] = mask_box(mask) or (0.0, 0.0, 0.0, 0.0)
    return boxes


def precision_kwargs(half: bool, device: str) -> dict[str, Any]:
    """Ultralytics' precision argument for predict and track: fp16 (``quantize=16``) when
    ``half`` on a GPU, else none (fp32)."""
    return {"quantize": 16} if half and device != "cpu" else {}


def trained_imgsz(model: Any) -> int | None:
    """The image size an ultralytics model was trained at, from its checkpoint's arguments."""
    args = (getattr(model, "ckpt", None) or {}).get("train_args") or {}
    imgsz = args.get("imgsz") if isinstance(args, dict) else None
    if isinstance(imgsz, list | tuple):
        imgsz = max(imgsz) if imgsz else None
    return int(imgsz) if isinstance(imgsz, int | float) and imgsz > 0 else None


def result_detections(result: Any, shape: tuple[int, int], *, masks: bool = True) -> Detections:
    """One ultralytics result -> :class:`Detections` at the frame's ``(height, width)``.

    Args:
        result: an ultralytics ``Results``.
        shape: the frame's ``(height, width)``.
        masks: read the masks (a segmentation model's; resized to the frame when they are
            not already at its size); False gives boxes and scores only.
    """
    height, width = shape
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return Detections.none(height, width) if masks else Detections.from_boxes([], [])
    scores = boxes.conf.cpu().numpy().astype(np.float32).reshape(-1)
    xyxy = boxes.xyxy.cpu().numpy().astype(np.float64).reshape(-1, 4)
    if not masks:
        return Detections.from_boxes(xyxy, scores)
    if result.masks is None:
        return Detections.none(height, width)
    found = result.masks.data.cpu().numpy() > 0.5
    if found.shape[1:] != (height, width):
        import cv2

        found = np.stack(
            [
                cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
                for m in found
            ]
        )
    return Detections(found, scores, xyxy)


class YoloModel:
    """A YOLO model ready to run: ultralytics offline, its device and threads set.

    Attributes:
        path: the model file.
        model: the ``ultralytics.YOLO`` object (training, validation, export, tracking).
        device: ultralytics' ``device=`` string (``cpu`` or a CUDA index).
        task: ``segment`` or ``detect``.
    """

    def __init__(
        self,
        path: Path,
        model: Any,
        device: str,
        settings_dir: tempfile.TemporaryDirectory[str] | None = None,
    ) -> None:
        self.path = path
        self.model = model
        self.device = device
        self.task = str(getattr(model, "task", ""))
        self._settings_dir = settings_dir  # removed with the model

    @property
    def trained_imgsz(self) -> int | None:
        """The size the model was trained at (None when its file does not say)."""
        return trained_imgsz(self.model)

    def predict(self, images: Sequence[np.ndarray], **kwargs: Any) -> list[Any]:
        """Ultralytics results of BGR ``images`` on this model's device (``verbose`` off)."""
        if not len(images):
            return []
        return list(self.model.predict(list(images), device=self.device, verbose=False, **kwargs))

    def detections(
        self, images: Sequence[np.ndarray], *, masks: bool = True, **kwargs: Any
    ) -> list[Detections]:
        """One :class:`Detections` per BGR image (masks at the image's size when ``masks``)."""
        if masks and self.task == "segment":
            kwargs.setdefault("retina_masks", True)  # masks at the frame's size
        results = self.predict(images, **kwargs)
        pairs = zip(results, images, strict=True)
        return [result_detections(r, img.shape[:2], masks=masks) for r, img in pairs]


def _check_onnx(path: Path, named: str) -> None:
    """Refuse an ONNX file that ONNX Runtime cannot load, naming it."""
    import onnxruntime

    try:
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # ONNX Runtime's own exception types, one per failure
        raise ModelFileError(f"{named}: not a readable ONNX model ({err})") from err


def open_model(
    path: str | os.PathLike[str],
    *,
    task: str | None = None,
    config_dir: str | os.PathLike[str] | None = None,
    threads: int = 1,
    device: str = "auto",
    origin: str | None = None,
    suffixes: Sequence[str] | None = None,
) -> YoloModel:
    """Load a YOLO model file for inference or training, offline and restricted.

    Args:
        path: the model file (``.pt``; ``.onnx`` where ``suffixes`` allows it).
        task: the task it must have (``segment``, ``detect``); None = what the file says.
        config_dir: ultralytics' settings folder (None: ``$YOLO_CONFIG_DIR``, else a temporary
            folder removed with the returned model).
        threads: CPU threads of torch.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        origin: the option or config key ``path`` came from (named in errors).
        suffixes: the file suffixes accepted (None: any the restricted loader accepts).

    Raises:
        ModelFileError: the file is missing, of a suffix not accepted, refused by the
            restricted reader, an ONNX file ONNX Runtime cannot read, not loadable by
            ultralytics, or of another task.
    """
    from mosaicflow.devices import ultralytics_device

    path = Path(path)
    named = f"{path} ({origin})" if origin else str(path)
    if not path.is_file():
        raise ModelFileError(f"{named}: no such model file")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ModelFileError(f"{named}: not a YOLO model file ({' or '.join(suffixes)} expected)")
    if path.suffix.lower() == ".onnx":
        _check_onnx(path, named)  # ultralytics would read it only at the first prediction
    settings_dir = None
    if config_dir is None:
        config_dir = os.environ.get("YOLO_CONFIG_DIR") or None
    if config_dir is None:
        settings_dir = tempfile.TemporaryDirectory(prefix="mosaicflow-ultralytics-")
        config_dir = settings_dir.name
    prepare_ultralytics(config_dir, threads)
    try:
        model = load_yolo(path, task, origin=origin)
    except CheckpointError as err:  # names the file, its origin and why
        raise ModelFileError(str(err)) from err
    except Exception as err:  # ultralytics raises many kinds; all mean "not a model"
        raise ModelFileError(f"{named}: not a YOLO model ({type(err).__name__}: {err})") from err
    found = getattr(model, "task", None)
    if task is not None and found != task:
        raise ModelFileError(f"{named}: a YOLO {found or '?'} model, not a {task} model")
    return YoloModel(path, model, ultralytics_device(device), settings_dir)
