"""The size a dataset writes its images at: the long side capped, never enlarged."""

from __future__ import annotations

import cv2
import numpy as np


def target_size(height: int, width: int, imgsz: int) -> tuple[int, int]:
    """``(H, W)`` with the long side at most ``imgsz`` (never upscaled), aspect kept."""
    if min(height, width) <= 0:
        return height, width
    scale = min(1.0, imgsz / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def shrink(image: np.ndarray, imgsz: int) -> np.ndarray:
    """``image`` with its long side at most ``imgsz`` (area interpolation; never enlarged)."""
    height, width = image.shape[:2]
    out_h, out_w = target_size(height, width, imgsz)
    if (out_h, out_w) == (height, width):
        return image
    return cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
