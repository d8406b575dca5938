"""Analysers: measurements written into every clip's metadata, and the optional filters.

- ``watermark``: share of the clip's frames where a given watermark box lies over the crop
  (boxes come from a plain mapping or callable, e.g. detector output or the demo world's truth;
  ``None`` when none were given);
- ``region_px`` / ``region_fraction``: the region's median box short side (source pixels) and
  median box area as a fraction of the frame;
- ``sharpness``: variance of the Laplacian of the region (grey levels squared);
- ``quality``: ``1 - blur effect`` (Crete et al. 2007, the no-reference blur metric of
  ``skimage.measure.blur_effect``), in [0, 1], higher is sharper;
- ``blockiness`` / ``block``: how much of the region's gradient energy lies on one block grid
  (0 = natural image, 1 = a clean mosaic) and that grid's period: flags already pixelated clips;
- ``source_quality`` / ``source_quality_resize``: the source-quality classifier's P(clean) of the
  analysed frames at full resolution, from five crops and from one resize
  (:mod:`mosaicflow.quality`; ``None`` without a classifier).

Pixel measures are medians over a few evenly spaced frames of the region box at source
resolution. Each filter is off (``None``) by default; :func:`filter_reason` names the first
that fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import cv2
import numpy as np

from mosaicflow.datasets.clips.config import FiltersConfig
from mosaicflow.formats.boxes import shares_inside

#: Watermark boxes per frame number: a mapping or a callable giving an (N, 4) xyxy array.
WatermarkSource = Union[Mapping[int, Any], Callable[[int], Any]]  # noqa: UP007


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a grey image."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def quality(gray: np.ndarray) -> float:
    """No-reference quality ``1 - blur_effect`` in [0, 1] (higher = sharper)."""
    from skimage.measure import blur_effect

    if min(gray.shape) < 3:
        return 0.0
    value = blur_effect(gray.astype(np.float64))
    return float(np.clip(1.0 - value, 0.0, 1.0)) if np.isfinite(value) else 0.0


def _grid_share(diffs: np.ndarray, max_block: int) -> tuple[float, int]:
    total = float(diffs.sum())
    if len(diffs) < 6 or total <= 0.5 * len(diffs) * 1e-3:
        return 0.0, 0
    best, block = 0.0, 0
    positions = np.arange(1, len(diffs) + 1)
    for b in range(2, min(max_block, len(diffs) // 3) + 1):
        share = float(np.bincount(positions % b, weights=diffs, minlength=b).max() / total)
        score = (share - 1.0 / b) / (1.0 - 1.0 / b)
        if score >= best - 0.02:  # prefer the largest period among equal ones (b, 2b, ...)
            best, block = max(best, score), b
    best = float(np.clip(best, 0.0, 1.0))
    return best, (block if best >= 0.2 else 0)


def blockiness(gray: np.ndarray, max_block: int = 32) -> tuple[float, int]:
    """Share of gradient energy on one block grid, in both directions (0..1), and its period.

    For each period ``b`` the column (row) gradient energy is folded modulo ``b``; a mosaic puts
    all of it on one phase. The score is normalised so a natural image scores about 0 and a clean
    block grid 1; the smaller of the two directions is returned.
    """
    g = gray.astype(np.float32)
    dx = np.abs(np.diff(g, axis=1)).mean(axis=0) if g.shape[1] > 1 else np.zeros(0)
    dy = np.abs(np.diff(g, axis=0)).mean(axis=1) if g.shape[0] > 1 else np.zeros(0)
    sx, bx = _grid_share(dx, max_block)
    sy, by = _grid_share(dy, max_block)
    return (sx, bx) if sx <= sy else (sy, by)


def grey_crop(rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The grey levels (uint8) of an RGB frame inside ``(x0, y0, x1, y1)``, rounded to pixels
    and clipped to the frame (possibly empty)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    region = rgb[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    return np.ascontiguousarray(region.mean(axis=2).astype(np.uint8))


def pixel_measures(grays: Sequence[np.ndarray]) -> dict[str, float | int | None]:
    """Median sharpness, quality and blockiness over grey region crops."""
    usable = [g for g in grays if min(g.shape) >= 4]
    if not usable:
        return {"sharpness": None, "quality": None, "blockiness": None, "block": None}
    blocks = [blockiness(g) for g in usable]
    scores = [b[0] for b in blocks]
    median_block = blocks[int(np.argsort(scores)[len(scores) // 2])][1]
    return {
        "sharpness": round(float(np.median([sharpness(g) for g in usable])), 4),
        "quality": round(float(np.median([quality(g) for g in usable])), 4),
        "blockiness": round(float(np.median(scores)), 4),
        "block": int(median_block),
    }


def source_quality(scores: Sequence[tuple[float, float]]) -> dict[str, float | None]:
    """Mean P(clean) of the analysed frames, from five crops and from one resize (None: none)."""
    if not scores:
        return {"source_quality": None, "source_quality_resize": None}
    values = np.asarray(scores, np.float64)
    return {
        "source_quality": round(float(values[:, 0].mean()), 6),
        "source_quality_resize": round(float(values[:, 1].mean()), 6),
    }


def region_measures(
    boxes: np.ndarray, areas: np.ndarray, frame_shape: tuple[int, int]
) -> dict[str, float]:
    """Median region box size and area of the detected frames of a clip (source pixels)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return {
        "box_w": round(float(np.median(w)), 2),
        "box_h": round(float(np.median(h)), 2),
        "mask_area": round(float(np.median(areas)), 2),
        "region_px": round(float(np.median(np.minimum(w, h))), 2),
        "region_fraction": round(float(np.median(w * h)) / (frame_shape[0] * frame_shape[1]), 6),
    }


def watermark_boxes(source: WatermarkSource, frame: int) -> np.ndarray:
    """The (N, 4) watermark boxes of ``frame`` from a mapping or callable (none: empty)."""
    value = source(frame) if callable(source) else source.get(frame, ())
    return np.asarray(value if value is not None else (), dtype=np.float64).reshape(-1, 4)


def watermark_share(
    crop_boxes: np.ndarray,
    frames: Sequence[int],
    source: WatermarkSource | None,
    min_overlap: float,
) -> float | None:
    """Share of frames whose crop box holds more than ``min_overlap`` of a watermark box."""
    if source is None:
        return None
    hits = sum(
        shares_inside(tuple(float(v) for v in box), watermark_boxes(source, frame)).max(initial=0.0)
        > min_overlap
        for box, frame in zip(crop_boxes, frames, strict=True)
    )
    return round(hits / max(1, len(frames)), 6)


def filter_reason(results: Mapping[str, Any], filters: FiltersConfig) -> str:
    """The first failed filter as ``"<name> <value> <op> <limit>"``, or ``""`` (kept).

    A measure that could not be taken (``None``) passes its filter.
    """
    checks = (
        ("watermark", filters.max_watermark, ">"),
        ("region_px", filters.min_region_px, "<"),
        ("region_fraction", filters.max_region_fraction, ">"),
        ("sharpness", filters.min_sharpness, "<"),
        ("quality", filters.min_quality, "<"),
        ("blockiness", filters.max_blockiness, ">"),
        ("source_quality", filters.min_source_quality, "<"),
    )
    for name, limit, op in checks:
        value = results.get(name)
        if limit is None or value is None:
            continue
        if (op == ">" and value > limit) or (op == "<" and value < limit):
            return f"{name} {value:g} {op} {limit:g}"
    return ""


def watermarks_from_truth(per_frame: Sequence[Mapping[str, Any]]) -> dict[int, np.ndarray]:
    """Watermark boxes per frame from a truth JSON's ``per_frame`` list.

    Each entry has ``frame`` and ``watermarks``: boxes ``[x0, y0, x1, y1]`` or objects with a
    ``box`` key (:mod:`mosaicflow.formats.truth`). Detector output in the same shape works too.
    """
    out: dict[int, np.ndarray] = {}
    for entry in per_frame:
        boxes = [w["box"] if isinstance(w, Mapping) else w for w in entry.get("watermarks", ())]
        out[int(entry["frame"])] = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return out
