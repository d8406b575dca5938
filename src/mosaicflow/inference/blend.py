"""Feathered pasting of a restored crop into its frame.

The weight of the restored pixels is 1 on the detected mask, then falls to 0 over a band
outside it: the mask is dilated by ``dilate`` x the clip's border and blurred with a Gaussian
whose width is ``blur`` x the border, so the seam lies inside the crop's border and the crop's
edge never shows. Pixels the weight leaves at 0 are not touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mosaicflow.datasets.clips.crops import grow_mask


@dataclass(frozen=True)
class FeatherSettings:
    """The feathering band, as fractions of the clip's border (source pixels).

    Attributes:
        dilate: mask dilation radius / border.
        blur: Gaussian blur kernel radius / border (sigma is a third of the radius).
    """

    dilate: float = 0.25
    blur: float = 0.5


def feather_weights(mask: np.ndarray, border_px: float, settings: FeatherSettings) -> np.ndarray:
    """Blend weights in [0, 1] (float32) from a bool mask: 1 inside, feathered outside.

    Args:
        mask: bool mask (the crop box's window of the frame).
        border_px: the clip's border in source pixels.
        settings: dilation and blur fractions.
    """
    binary = mask.astype(np.uint8) * 255
    radius = round(settings.dilate * border_px)
    grown = grow_mask(binary, radius).astype(np.float32) / 255.0
    blur_radius = round(settings.blur * border_px)
    if blur_radius > 0:
        kernel = 2 * blur_radius + 1
        grown = cv2.GaussianBlur(
            grown,
            (kernel, kernel),
            sigmaX=max(blur_radius / 3.0, 0.5),
            borderType=cv2.BORDER_CONSTANT,
        )
    weights = np.maximum(grown, mask.astype(np.float32))
    weights[weights < 1.0 / 512] = 0.0  # would not change an 8-bit pixel
    return weights


def blend_into(
    frame: np.ndarray,
    restored: np.ndarray,
    weights: np.ndarray,
    box: tuple[int, int, int, int],
) -> np.ndarray:
    """Blend ``restored`` into ``frame`` inside ``box`` with ``weights`` (in place).

    Args:
        frame: ``(H, W, 3)`` uint8 RGB frame, modified in place.
        restored: ``(box_h, box_w, 3)`` uint8 restored crop.
        weights: ``(box_h, box_w)`` float weights of ``restored``.
        box: ``(x0, y0, x1, y1)`` of the crop in the frame.

    Returns:
        The bool ``(box_h, box_w)`` window of pixels that changed weight (weights > 0).
    """
    x0, y0, x1, y1 = box
    window = frame[y0:y1, x0:x1]
    w = weights[..., None]
    mixed = restored.astype(np.float32) * w + window.astype(np.float32) * (1.0 - w)
    touched = weights > 0
    window[touched] = np.clip(np.rint(mixed[touched]), 0, 255).astype(np.uint8)
    return touched


def touched_box(weights: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` bounds of the pixels ``weights`` changes (``None``: none)."""
    rows = np.flatnonzero((weights > 0).any(axis=1))
    if not len(rows):
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    cols = np.flatnonzero((weights[y0:y1] > 0).any(axis=0))
    return int(cols[0]), y0, int(cols[-1]) + 1, y1


def blend_window(window: np.ndarray, restored: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`blend_into` on a window of the frame (in place), with the same pixels.

    Where the weight is 1 the restored pixel is copied (``r * 1 + o * 0`` is ``r`` exactly in
    float32); the feathered band is mixed with :func:`blend_into`'s float32 arithmetic.

    Args:
        window: ``(h, w, 3)`` uint8 RGB, modified in place.
        restored: ``(h, w, 3)`` uint8 restored pixels.
        weights: ``(h, w)`` float32 weights of ``restored``.

    Returns:
        The bool ``(h, w)`` pixels with weight > 0.
    """
    touched = weights > 0
    inside = weights == 1.0
    band = touched & ~inside
    # OpenCV's masked copy writes into the window in place; numpy's masked and fancy indexing
    # of a strided window is ten times slower, so the band is mixed in a contiguous copy
    cv2.copyTo(restored, inside.view(np.uint8), window)
    index = np.flatnonzero(band)
    mixed_window = np.ascontiguousarray(window)
    flat = mixed_window.reshape(-1, 3)
    w = np.take(weights.reshape(-1), index)[:, None]
    new = np.take(restored.reshape(-1, 3), index, axis=0).astype(np.float32) * w
    old = np.take(flat, index, axis=0).astype(np.float32) * (1.0 - w)
    flat[index] = np.clip(np.rint(new + old), 0, 255).astype(np.uint8)
    cv2.copyTo(mixed_window, band.view(np.uint8), window)
    return touched
