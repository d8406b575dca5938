"""Run one or two YOLO models over a video's frames for :mod:`mosaicflow.curate.hard_frames`.

Every ``stride``-th decoded frame is predicted at the lowest score looked at; each frame keeps
its boxes, scores and labels (no polygons: the picked frames are predicted again at full
resolution for their pre-labels). With a second model, the IoU of the two models' union masks
is kept per frame, drawn from their polygons on a coarse grid over the frame (a detection
model's boxes are filled).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mosaicflow.curate.hard_frames import Detection, union_iou
from mosaicflow.yolo.scoring import batched

log = logging.getLogger(__name__)

#: Frames per forward.
BATCH = 16
#: Width in cells of the grid two models' regions are compared on.
GRID = 320


@dataclass(frozen=True)
class VideoPredictions:
    """A model's detections on the sampled frames of one video.

    Attributes:
        frame_numbers: decoded frame number of each sampled frame (``iter_frames`` numbering).
        detections: per sampled frame, the detections at or above the lowest score looked at.
        agreement: per sampled frame index, the union-mask IoU with the second model (empty
            without one).
        size: ``(width, height)`` of the frames.
    """

    frame_numbers: tuple[int, ...]
    detections: tuple[tuple[Detection, ...], ...]
    agreement: dict[int, float]
    size: tuple[int, int]


def result_detections(result: Any, names: dict[int, str]) -> tuple[Detection, ...]:
    """The detections of one ultralytics result, in pixel coordinates."""
    if result.boxes is None or len(result.boxes) == 0:
        return ()
    boxes = result.boxes.xyxy.cpu().numpy().astype(float)
    scores = result.boxes.conf.cpu().numpy().astype(float)
    classes = result.boxes.cls.cpu().numpy().astype(int)
    return tuple(
        Detection((b[0], b[1], b[2], b[3]), float(s), names[int(c)])
        for b, s, c in zip(boxes, scores, classes, strict=True)
    )


def union_mask(result: Any, grid: tuple[int, int], found: float) -> np.ndarray:
    """The union of a result's regions scored at least ``found``, drawn on a ``grid`` of
    (height, width) cells over the frame; a detection model's boxes are filled."""
    out = np.zeros(grid, dtype=np.uint8)
    if result.boxes is None or len(result.boxes) == 0:
        return out.astype(bool)
    height, width = result.orig_shape
    scale = np.array([grid[1] / width, grid[0] / height])
    keep = np.flatnonzero(result.boxes.conf.cpu().numpy() >= found)
    if result.masks is not None:
        for k in keep:
            polygon = np.asarray(result.masks.xy[k], dtype=float) * scale
            if len(polygon) >= 3:
                cv2.fillPoly(out, [np.round(polygon).astype(np.int32)], 1)
        return out.astype(bool)
    for x0, y0, x1, y1 in result.boxes.xyxy.cpu().numpy()[keep]:
        out[
            int(y0 * scale[1]) : int(np.ceil(y1 * scale[1])),
            int(x0 * scale[0]) : int(np.ceil(x1 * scale[0])),
        ] = 1
    return out.astype(bool)


def comparison_grid(width: int, height: int) -> tuple[int, int]:
    """The (height, width) grid two models' regions are compared on: the frame at most
    :data:`GRID` cells wide."""
    factor = min(1.0, GRID / width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def sampled_frames(
    video: Path, stride: int, max_frames: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    """Every ``stride``-th frame of ``video`` (BGR), at most ``max_frames`` of them."""
    from mosaicflow.video.decode import iter_frames

    taken = 0
    for number, image in iter_frames(video, None, fmt="bgr24"):
        if number % stride:
            continue
        if max_frames is not None and taken >= max_frames:
            return
        taken += 1
        yield number, image


def predict_video(
    video: Path,
    model: Any,
    *,
    lowest: float,
    found: float,
    imgsz: int,
    device: str,
    stride: int = 1,
    max_frames: int | None = None,
    second: Any | None = None,
) -> VideoPredictions:
    """Predict the sampled frames of ``video`` with ``model`` (and ``second``).

    Args:
        video: the video file.
        model, second: ultralytics ``YOLO`` models (``second`` optional).
        lowest: lowest score kept.
        found: score from which a region counts as found (for the two models' agreement).
        imgsz: inference size.
        device: ultralytics device string.
        stride: predict every ``stride``-th frame.
        max_frames: stop after this many sampled frames.

    Raises:
        ValueError: naming the video when it has no frame.
    """
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    kwargs = {"imgsz": imgsz, "conf": lowest, "device": device, "verbose": False}
    numbers: list[int] = []
    detections: list[tuple[Detection, ...]] = []
    agreement: dict[int, float] = {}
    size = (0, 0)
    for batch in batched(sampled_frames(video, stride, max_frames), BATCH):
        images = [image for _, image in batch]
        size = (images[0].shape[1], images[0].shape[0])
        results = model.predict(images, **kwargs)
        others: Sequence[Any] = second.predict(images, **kwargs) if second is not None else ()
        for k, ((number, _), result) in enumerate(zip(batch, results, strict=True)):
            index = len(numbers)
            numbers.append(number)
            detections.append(result_detections(result, model.names))
            if others:
                grid = comparison_grid(*size)
                agreement[index] = union_iou(
                    union_mask(result, grid, found), union_mask(others[k], grid, found)
                )
    if not numbers:
        raise ValueError(f"{video}: no frame decoded")
    log.info("%s: %d frames predicted (every %d)", video.name, len(numbers), stride)
    return VideoPredictions(tuple(numbers), tuple(detections), agreement, size)
