"""Crops of a clip: region boxes smoothed over time, bordered, squared, scaled and padded.

One crop size per clip (the largest bordered box of the clip), so every frame of a clip has the
same scale; the crop's centre follows the running-median box. With ``resize: down`` a crop
smaller than ``out_size`` is grown to ``out_size`` with more of the frame (never upscaled) and
padding appears only where the frame itself is too small; larger crops are shrunk to fit. With
``resize: always`` the crop is scaled to fit ``out_size``. Every output frame is
``out_size x out_size``; the padding ``(top, bottom, left, right)`` is recorded per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from mosaicflow.datasets.clips.config import RestorationDatasetConfig


@dataclass(frozen=True)
class CropPlan:
    """Where each frame of a clip is cut and how it is scaled.

    Attributes:
        boxes: ``(T, 4)`` int crop boxes ``(x0, y0, x1, y1)`` in source pixels (same size each).
        scale: output pixels per source pixel.
        content: ``(h, w)`` of the scaled crop inside the output.
        pad: ``(top, bottom, left, right)`` padding to ``out_size`` (the same for every frame).
        out_size: side of the square output.
    """

    boxes: np.ndarray
    scale: float
    content: tuple[int, int]
    pad: tuple[int, int, int, int]
    out_size: int


def median_smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running median of ``values`` ``(T, K)`` over ``window`` frames (shrinking at the ends)."""
    values = np.asarray(values, dtype=np.float64)
    half = max(0, window // 2)
    if half == 0 or len(values) < 2:
        return values.copy()
    out = np.empty_like(values)
    for i in range(len(values)):
        out[i] = np.median(values[max(0, i - half) : i + half + 1], axis=0)
    return out


def fill_gaps(boxes: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Copy the nearest detected frame's box into gap frames (ties: the earlier frame)."""
    hits = np.flatnonzero(detected)
    if not len(hits):
        raise ValueError("a clip needs at least one detected frame")
    nearest = hits[np.abs(np.arange(len(boxes))[:, None] - hits[None, :]).argmin(axis=1)]
    return np.asarray(boxes, dtype=np.float64)[nearest]


def plan_crop(
    region_boxes: np.ndarray,
    frame_shape: tuple[int, int],
    cfg: RestorationDatasetConfig,
    fps: float,
) -> CropPlan:
    """Crop boxes of a clip from its per-frame region boxes.

    Args:
        region_boxes: ``(T, 4)`` region boxes ``(x0, y0, x1, y1)`` in source pixels (gaps filled).
        frame_shape: ``(H, W)`` of the source frames.
        cfg: the stage config (border, smoothing, square, crop mode, resize, out size).
        fps: frame rate (the smoothing window is in seconds).

    Returns:
        The :class:`CropPlan`.
    """
    height, width = frame_shape
    out = cfg.out_size
    t_len = len(region_boxes)
    if cfg.crop == "full_frame":
        cw, ch = width, height
        boxes = np.tile(np.array([0, 0, width, height], np.int64), (t_len, 1))
    else:
        window = max(1, round(cfg.smooth_seconds * fps)) | 1
        smooth = median_smooth(region_boxes, window)
        bw = smooth[:, 2] - smooth[:, 0]
        bh = smooth[:, 3] - smooth[:, 1]
        need_w = float(np.max(bw + 2 * np.maximum(cfg.border * bw, cfg.border_min_px)))
        need_h = float(np.max(bh + 2 * np.maximum(cfg.border * bh, cfg.border_min_px)))
        if cfg.square:
            need_w = need_h = max(need_w, need_h)
        if cfg.resize == "down":
            need_w, need_h = max(need_w, out), max(need_h, out)
        cw = max(1, min(math.ceil(need_w - 1e-6), width))
        ch = max(1, min(math.ceil(need_h - 1e-6), height))
        cx = (smooth[:, 0] + smooth[:, 2]) / 2
        cy = (smooth[:, 1] + smooth[:, 3]) / 2
        x0 = np.clip(np.round(cx - cw / 2), 0, width - cw).astype(np.int64)
        y0 = np.clip(np.round(cy - ch / 2), 0, height - ch).astype(np.int64)
        boxes = np.stack([x0, y0, x0 + cw, y0 + ch], axis=1)
    scale = out / max(cw, ch)
    if cfg.resize == "down":
        scale = min(scale, 1.0)
    sw = min(out, max(1, round(cw * scale)))
    sh = min(out, max(1, round(ch * scale)))
    top, left = (out - sh) // 2, (out - sw) // 2
    return CropPlan(
        boxes, float(scale), (sh, sw), (top, out - sh - top, left, out - sw - left), out
    )


def crop_image(
    image: np.ndarray, box: np.ndarray, plan: CropPlan, *, mask: bool = False
) -> np.ndarray:
    """Cut ``box`` out of ``image`` (``(H, W, 3)`` uint8 or a ``(H, W)`` 0/255 mask), scale, pad.

    Masks are shrunk by area averaging and re-thresholded (enlarged: nearest), so they stay 0/255.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    crop = image[y0:y1, x0:x1]
    sh, sw = plan.content
    if (sh, sw) != crop.shape[:2]:
        shrink = sh < crop.shape[0] or sw < crop.shape[1]
        if mask:
            inter = cv2.INTER_AREA if shrink else cv2.INTER_NEAREST
        else:
            inter = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (sw, sh), interpolation=inter)
        if mask:
            crop = np.where(crop >= 128, 255, 0).astype(np.uint8)
    top, bottom, left, right = plan.pad
    if top or bottom or left or right:
        pad = ((top, bottom), (left, right)) + (((0, 0),) if crop.ndim == 3 else ())
        crop = np.pad(crop, pad)
    return np.ascontiguousarray(crop)


def grow_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate a 0/255 mask with a disk of ``radius`` pixels (unchanged for radius 0)."""
    if radius <= 0 or not mask.any():
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel)


def to_output(box_xyxy: np.ndarray, crop_box: np.ndarray, plan: CropPlan) -> list[float]:
    """A source-pixel box in output pixels of the frame cropped at ``crop_box``."""
    top, _, left, _ = plan.pad
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    cx0, cy0 = float(crop_box[0]), float(crop_box[1])
    s = plan.scale
    return [
        round(left + (x0 - cx0) * s, 2),
        round(top + (y0 - cy0) * s, 2),
        round(left + (x1 - cx0) * s, 2),
        round(top + (y1 - cy0) * s, 2),
    ]
