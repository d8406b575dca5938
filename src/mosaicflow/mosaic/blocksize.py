"""Block-size estimators: how big the mosaic blocks of a region are.

Four families, all returned for the metadata (one is chosen by ``mosaic.block_size_method``):

- ``area``: piecewise-linear in the region area, measured at a 512 px short side and scaled
  back, so a region covering the same fraction of the frame gets the same relative block size.
- ``area_sigmoid``: the same trend smoothed by a logistic curve, plus a small random offset and
  random rounding (more variety between clips).
- ``coverage``: a fraction of the frame's long side that grows with how much of the frame the
  region's long side covers.
- ``long_side``: ``max(4, long_side // 100)`` (the rule of thumb of publishing guidelines).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mosaicflow.mosaic.config import SigmoidJitterConfig

REFERENCE_SHORT_SIDE = 512.0

# Piecewise-linear segments at the 512 px reference: (area from, area to, size at start, slope).
# Sizes rise slowly with the area and jump at the large-region end (close-ups get big blocks).
_AREA_SEGMENTS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 1_000.0, 5.0, 1 / 1_000),
    (1_000.0, 5_000.0, 6.0, 1 / 5_000),
    (5_000.0, 20_000.0, 7.0, 1 / 20_000),
    (20_000.0, 50_000.0, 8.0, 1 / 30_000),
    (50_000.0, math.inf, 12.0, 1 / 50_000),
)
_SIGMOID_MID = 25_000.0
_SIGMOID_STEEP = 1.8e-4
_SIGMOID_MIN = 5.0
_SIGMOID_AT_50K = 12.0


@dataclass(frozen=True)
class RegionStats:
    """What the estimators need to know about a region (in pixels of ``frame_shape``)."""

    mask_area: float
    box_area: float
    box_w: float
    box_h: float

    def area(self, measure: str) -> float:
        """Region area by ``measure`` (``mask`` pixels or bounding ``box``)."""
        return self.mask_area if measure == "mask" else self.box_area


def region_stats(region: np.ndarray | Sequence[float]) -> RegionStats:
    """Measure a region given as a mask ``(H, W)``, a clip of masks ``(T, H, W)`` or a box.

    For a clip the median over the frames where the region is present is used. A box is
    ``(x0, y0, x1, y1)`` in pixels (exclusive end).

    Raises:
        ValueError: for an array that is neither 2-D nor 3-D, or a box that is not 4 numbers.
    """
    if not isinstance(region, np.ndarray):
        box = tuple(float(v) for v in region)
        if len(box) != 4:
            raise ValueError(f"a region box must be (x0, y0, x1, y1), got {region!r}")
        w, h = max(box[2] - box[0], 0.0), max(box[3] - box[1], 0.0)
        return RegionStats(w * h, w * h, w, h)
    masks = region[None] if region.ndim == 2 else region
    if masks.ndim != 3:
        raise ValueError(f"region mask must be (H, W) or (T, H, W), got shape {region.shape}")
    present = masks.reshape(len(masks), -1).any(axis=1)
    if not present.any():
        return RegionStats(0.0, 0.0, 0.0, 0.0)
    masks = masks[present] > 0
    rows = masks.any(axis=2)
    cols = masks.any(axis=1)
    heights = rows.shape[1] - rows[:, ::-1].argmax(axis=1) - rows.argmax(axis=1)
    widths = cols.shape[1] - cols[:, ::-1].argmax(axis=1) - cols.argmax(axis=1)
    areas = masks.reshape(len(masks), -1).sum(axis=1)
    return RegionStats(
        mask_area=float(np.median(areas)),
        box_area=float(np.median(widths * heights)),
        box_w=float(np.median(widths)),
        box_h=float(np.median(heights)),
    )


def _alpha(frame_shape: Sequence[int]) -> float:
    return min(frame_shape[0], frame_shape[1]) / REFERENCE_SHORT_SIDE


def area_size(area: float, frame_shape: Sequence[int]) -> float:
    """Piecewise-linear block size for a region of ``area`` pixels in a frame of ``frame_shape``."""
    alpha = _alpha(frame_shape)
    a = area / (alpha * alpha)
    for low, high, base, slope in _AREA_SEGMENTS:
        if a <= high:
            return alpha * (base + (max(a, low) - low) * slope)
    raise AssertionError("unreachable: the last segment is unbounded")


def _sigmoid_curve(a: float) -> float:
    def logistic(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-_SIGMOID_STEEP * (x - _SIGMOID_MID)))

    scale = (_SIGMOID_AT_50K - _SIGMOID_MIN) / logistic(50_000.0)
    return _SIGMOID_MIN + scale * logistic(a)


def area_sigmoid_size(
    area: float,
    frame_shape: Sequence[int],
    jitter: SigmoidJitterConfig,
    rng: np.random.Generator,
    min_size: int = 3,
) -> int:
    """Sigmoid-smoothed area block size with a random offset and random rounding.

    Above 50,000 px (at the 512 px reference) it follows the piecewise line of ``area_size``.
    """
    alpha = _alpha(frame_shape)
    a = area / (alpha * alpha)
    size = area_size(area, frame_shape) if a > 50_000 else alpha * _sigmoid_curve(a)
    width = jitter.wide if rng.random() < jitter.p_wide else jitter.narrow
    size = max(size + alpha * rng.uniform(-width, width), float(min_size))
    return int(math.floor(size) if rng.random() < 0.5 else math.ceil(size))


def coverage_size(
    stats: RegionStats, frame_shape: Sequence[int], coverage_range: Sequence[float]
) -> float:
    """Block size from how much of the frame's long side the region's long side covers."""
    long_side = float(max(frame_shape[0], frame_shape[1]))
    covered = min(max(stats.box_w, stats.box_h) / long_side, 1.0)
    low, high = coverage_range
    return (low + (high - low) * covered) * long_side


def long_side_size(frame_shape: Sequence[int]) -> int:
    """``max(4, long_side // 100)``."""
    return max(4, int(max(frame_shape[0], frame_shape[1])) // 100)


def estimate_block_sizes(
    stats: RegionStats,
    frame_shape: Sequence[int],
    *,
    area_measure: str,
    jitter: SigmoidJitterConfig,
    coverage_range: Sequence[float],
    rng: np.random.Generator,
    min_size: int = 3,
) -> dict[str, float]:
    """All four block-size estimates (pixels of ``frame_shape``), keyed by method name.

    Args:
        stats: the region (see ``region_stats``).
        frame_shape: ``(H, W)`` of the frame the region lives in (the uncropped scene).
        area_measure: ``mask`` or ``box`` area for the area estimators.
        jitter: random offset of the sigmoid estimator.
        coverage_range: block size fraction of the long side at zero and full coverage.
        rng: the clip's random generator (only the sigmoid estimator draws from it).
        min_size: lower bound of the sigmoid estimator.

    Returns:
        ``{"area": ..., "area_sigmoid": ..., "coverage": ..., "long_side": ...}``.
    """
    area = stats.area(area_measure)
    return {
        "area": round(area_size(area, frame_shape), 4),
        "area_sigmoid": float(area_sigmoid_size(area, frame_shape, jitter, rng, min_size)),
        "coverage": round(coverage_size(stats, frame_shape, coverage_range), 4),
        "long_side": float(long_side_size(frame_shape)),
    }
