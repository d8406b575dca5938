"""Axis-aligned boxes in pixels: how much of one lies inside another, and a mask's box."""

from __future__ import annotations

import numpy as np

#: ``(x0, y0, x1, y1)`` in pixels, ends exclusive.
Box = tuple[float, float, float, float]


def _intersections(box: Box, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per row of ``boxes``: its intersection area with ``box`` and its own area; and the
    area of ``box``."""
    dets = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = box
    iw = np.clip(np.minimum(dets[:, 2], x1) - np.maximum(dets[:, 0], x0), 0, None)
    ih = np.clip(np.minimum(dets[:, 3], y1) - np.maximum(dets[:, 1], y0), 0, None)
    area = np.clip(dets[:, 2] - dets[:, 0], 0, None) * np.clip(dets[:, 3] - dets[:, 1], 0, None)
    return iw * ih, area, max(x1 - x0, 0.0) * max(y1 - y0, 0.0)


def shares_inside(box: Box, boxes: np.ndarray) -> np.ndarray:
    """Per row of ``boxes`` (N x 4), the share of its area that lies inside ``box``.

    An empty box (zero width or height) has share 0.
    """
    inter, area, _ = _intersections(box, boxes)
    return np.where(area > 0, inter / np.maximum(area, 1e-9), 0.0)


def overlaps_of_smaller(box: Box, boxes: np.ndarray) -> np.ndarray:
    """Per row of ``boxes``, its intersection with ``box`` over the smaller of the two areas:
    1 when either lies inside the other, 0 when they do not meet or one is empty."""
    inter, area, own = _intersections(box, boxes)
    smaller = np.minimum(area, own)
    return np.where(smaller > 0, inter / np.maximum(smaller, 1e-9), 0.0)


def share_inside(det: Box, box: Box) -> float:
    """Share of the area of box ``det`` that lies inside ``box`` (0 for an empty ``det``)."""
    return float(shares_inside(box, np.asarray([det]))[0])


def mask_box(mask: np.ndarray) -> Box | None:
    """``(x0, y0, x1, y1)`` of a boolean mask's pixels (exclusive ends), None when empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)
