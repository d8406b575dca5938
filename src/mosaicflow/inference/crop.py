"""Crops of a clip for the restorer, with an aspect-preserving pad, and the way back.

Same semantics as the restoration dataset's crops (``restoration_dataset`` with ``resize: down``),
so the restorer sees at inference what it saw in training: one crop size per clip (the largest
bordered region box, grown toward a square), the crop's centre follows the running-median box,
crops smaller than the input size take more of the frame instead of being upscaled, larger ones
are shrunk to fit, and the rest of the square is zero padding (never a stretch).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mosaicflow.datasets.clips.crops import CropPlan, crop_image, median_smooth, region_crop_plan


@dataclass(frozen=True)
class CropSettings:
    """How crops are cut around a clip's region boxes.

    Attributes:
        border: border around the region box, as a fraction of its size (per side).
        border_min_px: smallest border in source pixels (per side).
        square: grow the crop toward a square where the frame allows.
        smooth_frames: window of the running median over the boxes (1 = no smoothing).
    """

    border: float = 0.1
    border_min_px: int = 8
    square: bool = True
    smooth_frames: int = 5


@dataclass(frozen=True)
class ClipCrop:
    """A clip's :class:`~mosaicflow.datasets.clips.crops.CropPlan` and its border in pixels.

    Attributes:
        plan: per-frame crop boxes, scale, content size and padding.
        border_px: the border added around the region box (source pixels, per side): the
            blending feathers within it.
    """

    plan: CropPlan
    border_px: float


def plan_clip_crop(
    region_boxes: np.ndarray, frame_shape: tuple[int, int], size: int, settings: CropSettings
) -> ClipCrop:
    """Crop boxes for a clip from its region boxes.

    Args:
        region_boxes: ``(T, 4)`` boxes ``(x0, y0, x1, y1)`` in source pixels.
        frame_shape: ``(H, W)`` of the frames.
        size: the restorer's input side.
        settings: border, square, smoothing.

    Returns:
        The :class:`ClipCrop` (every crop of the clip has the same size).
    """
    smooth = median_smooth(np.asarray(region_boxes, np.float64), max(1, settings.smooth_frames))
    plan = region_crop_plan(
        smooth,
        frame_shape,
        size,
        border=settings.border,
        border_min_px=settings.border_min_px,
        square=settings.square,
        never_upscale=True,
    )
    sides = np.concatenate([smooth[:, 2] - smooth[:, 0], smooth[:, 3] - smooth[:, 1]])
    border_px = float(np.min(np.maximum(settings.border * sides, settings.border_min_px)))
    return ClipCrop(plan, border_px)


def crop_frame(image: np.ndarray, box: np.ndarray, plan: CropPlan) -> np.ndarray:
    """Cut ``box`` out of an RGB frame, scale it and pad it to ``plan.out_size`` square."""
    return crop_image(image, box, plan)


def uncrop_frame(restored: np.ndarray, plan: CropPlan) -> np.ndarray:
    """The inverse of :func:`crop_frame`: drop the padding and resize to the crop box's size.

    Args:
        restored: ``(S, S, 3)`` output of the restorer for one frame.
        plan: the clip's crop plan.

    Returns:
        ``(box_h, box_w, 3)`` uint8, aligned with the crop box in the frame.
    """
    top, bottom, left, right = plan.pad
    size = plan.out_size
    content = restored[top : size - bottom, left : size - right]
    x0, y0, x1, y1 = (int(v) for v in plan.boxes[0])
    box_w, box_h = x1 - x0, y1 - y0
    if content.shape[:2] != (box_h, box_w):
        shrink = box_h < content.shape[0] or box_w < content.shape[1]
        inter = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        content = cv2.resize(content, (box_w, box_h), interpolation=inter)
    return np.ascontiguousarray(content)
