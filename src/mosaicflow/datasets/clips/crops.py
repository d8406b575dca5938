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

from mosaicflow.datasets.clips.config import ClipCuttingConfig


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
    cfg: ClipCuttingConfig,
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
    never_upscale = cfg.resize == "down"
    if cfg.crop == "full_frame":
        boxes = np.tile(np.array([0, 0, width, height], np.int64), (len(region_boxes), 1))
        return fit_to_square(boxes, (width, height), cfg.out_size, never_upscale)
    window = max(1, round(cfg.smooth_seconds * fps)) | 1
    return region_crop_plan(
        median_smooth(region_boxes, window),
        frame_shape,
        cfg.out_size,
        border=cfg.border,
        border_min_px=cfg.border_min_px,
        square=cfg.square,
        never_upscale=never_upscale,
    )


def region_crop_plan(
    smooth_boxes: np.ndarray,
    frame_shape: tuple[int, int],
    out_size: int,
    *,
    border: float,
    border_min_px: float,
    square: bool,
    never_upscale: bool,
) -> CropPlan:
    """The crop geometry that training clips and ``mosaicflow restore`` share.

    One crop size for the whole clip: the largest region box with its border (``border`` of
    the box's size per side, at least ``border_min_px``), grown toward a square, and with
    ``never_upscale`` at least ``out_size`` (small regions take more of the frame instead of
    being enlarged). Each frame's crop is centred on its smoothed box and kept inside the frame.

    Args:
        smooth_boxes: ``(T, 4)`` smoothed region boxes ``(x0, y0, x1, y1)`` in source pixels.
        frame_shape: ``(H, W)`` of the source frames.
        out_size: side of the square output.
        border: border per side as a fraction of the box's size.
        border_min_px: smallest border per side in source pixels.
        square: grow the crop toward a square where the frame allows.
        never_upscale: crops smaller than ``out_size`` take more frame instead of being scaled up.
    """
    height, width = frame_shape
    bw = smooth_boxes[:, 2] - smooth_boxes[:, 0]
    bh = smooth_boxes[:, 3] - smooth_boxes[:, 1]
    need_w = float(np.max(bw + 2 * np.maximum(border * bw, border_min_px)))
    need_h = float(np.max(bh + 2 * np.maximum(border * bh, border_min_px)))
    if square:
        need_w = need_h = max(need_w, need_h)
    if never_upscale:
        need_w, need_h = max(need_w, out_size), max(need_h, out_size)
    cw = max(1, min(math.ceil(need_w - 1e-6), width))
    ch = max(1, min(math.ceil(need_h - 1e-6), height))
    cx = (smooth_boxes[:, 0] + smooth_boxes[:, 2]) / 2
    cy = (smooth_boxes[:, 1] + smooth_boxes[:, 3]) / 2
    x0 = np.clip(np.round(cx - cw / 2), 0, width - cw).astype(np.int64)
    y0 = np.clip(np.round(cy - ch / 2), 0, height - ch).astype(np.int64)
    boxes = np.stack([x0, y0, x0 + cw, y0 + ch], axis=1)
    return fit_to_square(boxes, (cw, ch), out_size, never_upscale)


def fit_to_square(
    boxes: np.ndarray, crop_wh: tuple[int, int], out_size: int, never_upscale: bool
) -> CropPlan:
    """The plan that scales crops of ``crop_wh`` (every box's size) into an ``out_size`` square,
    keeping the aspect and padding the rest (never enlarged with ``never_upscale``)."""
    cw, ch = crop_wh
    scale = out_size / max(cw, ch)
    if never_upscale:
        scale = min(scale, 1.0)
    sw = min(out_size, max(1, round(cw * scale)))
    sh = min(out_size, max(1, round(ch * scale)))
    top, left = (out_size - sh) // 2, (out_size - sw) // 2
    pad = (top, out_size - sh - top, left, out_size - sw - left)
    return CropPlan(boxes, float(scale), (sh, sw), pad, out_size)


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
