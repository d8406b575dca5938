"""Where a frame's restored clips are blended: the composite of one frame, and the crops' pixels.

:class:`BoxCanvas` (the default) keeps the composite only in the window the blends touched
(even corners, grown when a later clip reaches beyond it) and merges it into the decoded planes
in that window; crops read only their box from the planes. :class:`FullFrameCanvas` is the
reference it must equal pixel for pixel: the whole frame converted to RGB, blended and merged
(:func:`~mosaicflow.inference.video_io.merge_touched`), as the pipeline first did; the
benchmark times it as the old path, and the tests compare the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from mosaicflow.inference.blend import blend_into, blend_window, touched_box
from mosaicflow.inference.video_io import (
    Window,
    merge_touched,
    merge_window,
    rgb_to_yuv,
    yuv_to_rgb,
    yuv_window_to_rgb,
)


def frame_size(yuv: np.ndarray) -> tuple[int, int]:
    """``(H, W)`` of I420 planes."""
    return yuv.shape[0] * 2 // 3, yuv.shape[1]


def even_window(box: Window, height: int, width: int) -> Window:
    """The smallest window with even corners that holds ``box`` (inside the frame)."""
    x0, y0, x1, y1 = box
    return x0 & ~1, y0 & ~1, min(width, x1 + (x1 & 1)), min(height, y1 + (y1 & 1))


class Canvas(Protocol):
    """One buffered frame: its decoded planes, the crops' source pixels and the composite."""

    yuv: np.ndarray
    blends: int

    def rgb(self, box: Window) -> np.ndarray:
        """The decoded RGB pixels of ``box`` (never the composite)."""
        ...

    def blend(self, patch: np.ndarray, weights: np.ndarray, box: Window) -> None:
        """Blend ``patch`` (``box``'s size) into the composite with ``weights``."""
        ...

    def planes(self) -> np.ndarray:
        """The planes to encode (call once, after the last blend)."""
        ...


class BoxCanvas:
    """The composite kept in the window the blends touched.

    Args:
        yuv: the decoded planes; :meth:`planes` merges the composite into them in place.
    """

    def __init__(self, yuv: np.ndarray) -> None:
        self.yuv = yuv
        self.blends = 0
        self.window: Window | None = None
        self._rgb: np.ndarray | None = None
        self._touched: np.ndarray | None = None

    def rgb(self, box: Window) -> np.ndarray:
        height, width = frame_size(self.yuv)
        window = even_window(box, height, width)
        x0, y0, x1, y1 = box
        wx, wy = window[0], window[1]
        return yuv_window_to_rgb(self.yuv, window)[y0 - wy : y1 - wy, x0 - wx : x1 - wx]

    def _cover(self, box: Window) -> Window:
        """Grow the composite's window to hold ``box``; returns the window."""
        height, width = frame_size(self.yuv)
        if self.window is None:
            self.window = even_window(box, height, width)
            self._rgb = yuv_window_to_rgb(self.yuv, self.window)
            self._touched = np.zeros(self._rgb.shape[:2], bool)
            return self.window
        ox0, oy0, ox1, oy1 = self.window
        x0, y0, x1, y1 = box
        if ox0 <= x0 and oy0 <= y0 and x1 <= ox1 and y1 <= oy1:
            return self.window
        union = (min(ox0, x0), min(oy0, y0), max(ox1, x1), max(oy1, y1))
        window = even_window(union, height, width)
        rgb = yuv_window_to_rgb(self.yuv, window)
        touched = np.zeros(rgb.shape[:2], bool)
        at = (slice(oy0 - window[1], oy1 - window[1]), slice(ox0 - window[0], ox1 - window[0]))
        rgb[at] = self._rgb
        touched[at] = self._touched
        self.window, self._rgb, self._touched = window, rgb, touched
        return window

    def blend(self, patch: np.ndarray, weights: np.ndarray, box: Window) -> None:
        self.blends += 1
        inner = touched_box(weights)
        if inner is None:
            return
        ix0, iy0, ix1, iy1 = inner
        bx, by = box[0], box[1]
        target = (bx + ix0, by + iy0, bx + ix1, by + iy1)
        wx, wy = self._cover(target)[:2]
        assert self._rgb is not None and self._touched is not None
        at = (slice(target[1] - wy, target[3] - wy), slice(target[0] - wx, target[2] - wx))
        inside = (slice(iy0, iy1), slice(ix0, ix1))
        self._touched[at] |= blend_window(self._rgb[at], patch[inside], weights[inside])

    def planes(self) -> np.ndarray:
        if self.window is not None:
            assert self._rgb is not None and self._touched is not None
            merge_window(self.yuv, self._rgb, self._touched, self.window)
            self.window = self._rgb = self._touched = None
        return self.yuv


class FullFrameCanvas:
    """The reference: a full-frame RGB composite and a full-frame merge.

    The whole frame is converted for every crop, and the conversion a crop made becomes the
    composite of the first blend (as the first pipeline reused its originals).
    """

    def __init__(self, yuv: np.ndarray) -> None:
        self.yuv = yuv
        self.blends = 0
        self._original: np.ndarray | None = None
        self._composite: np.ndarray | None = None
        self._touched: np.ndarray | None = None

    def rgb(self, box: Window) -> np.ndarray:
        x0, y0, x1, y1 = box
        full = yuv_to_rgb(self.yuv)
        crop = full[y0:y1, x0:x1].copy()
        self._original = full  # handed over only once the crop is read
        return crop

    def blend(self, patch: np.ndarray, weights: np.ndarray, box: Window) -> None:
        self.blends += 1
        if self._composite is None or self._touched is None:
            original, self._original = self._original, None
            self._composite = original if original is not None else yuv_to_rgb(self.yuv)
            self._touched = np.zeros(self._composite.shape[:2], bool)
        touched = blend_into(self._composite, patch, weights, box)
        x0, y0, x1, y1 = box
        self._touched[y0:y1, x0:x1] |= touched

    def planes(self) -> np.ndarray:
        if self._composite is None or self._touched is None:
            return self.yuv
        return merge_touched(self.yuv, rgb_to_yuv(self._composite), self._touched)


#: The canvas of each ``compositing`` setting.
CANVASES: dict[str, Callable[[np.ndarray], Canvas]] = {
    "box": BoxCanvas,
    "full_frame": FullFrameCanvas,
}
