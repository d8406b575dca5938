"""How rigidly a clip's region moves: the optical flow inside its mask, less the best
similarity transform (signal ``motion_residual`` of :mod:`.clip_signals`).

A logo, an overlay, a prop or a printed pattern moves as one piece: between two frames its
pixels follow one shift, rotation and scale, and the flow's residual after fitting that
transform is the flow's noise. A body deforms, and its residual stays well above the noise. The
signal reads the clip's pixels, not the segmenter's judgement of them; only the mask (which
pixels are the region) comes from the segmenter.
"""

from __future__ import annotations

import cv2
import numpy as np

from mosaicflow.yolo.watermark import sample_indices

#: Frame pairs per clip, their first frames evenly spaced.
MOTION_PAIRS = 4
#: Frames between the two frames of a pair (fewer in a shorter clip: its first and last).
MOTION_GAP = 10
#: Mask pixels a pair needs (after the mask's edge is eroded) to be measured.
MIN_MASK_PX = 30
#: The mask is eroded by this square (pixels) so the flow at the outline, which mixes the
#: region with what lies behind it, is left out.
ERODE_PX = 5
#: Reweighting steps of the robust similarity fit.
ROBUST_ITERATIONS = 5
#: Floor (pixels) of the Cauchy scale, so that an exact fit does not weigh one pixel alone.
ROBUST_MIN_SCALE = 0.05


def _fit_residuals(design: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per pixel (one weight each), the length of the flow vector less the weighted
    least-squares fit."""
    n = len(weights)
    w = np.concatenate([weights, weights])
    coef, *_ = np.linalg.lstsq(design * w[:, None], target * w, rcond=None)
    rest = target - design @ coef
    return np.hypot(rest[:n], rest[n:])


def similarity_residual(flow: np.ndarray, mask: np.ndarray) -> float:
    """Median length (pixels) of the flow vectors inside ``mask`` less the similarity transform
    (shift, rotation, scale) that fits most of them; NaN for fewer than :data:`MIN_MASK_PX`
    pixels.

    The transform is a robust fit (iteratively reweighted least squares, Cauchy weights at the
    scale of the median residual): a segmenter's mask often holds some of what lies behind the
    region, whose flow follows the background, and a plain least-squares fit would bend toward
    those pixels and leave a rigid region's own pixels a residual.

    Args:
        flow: ``(H, W, 2)`` float flow (dx, dy) per pixel.
        mask: ``(H, W)`` bool, the pixels to fit.
    """
    ys, xs = np.nonzero(mask)
    if len(xs) < MIN_MASK_PX:
        return float("nan")
    x = xs.astype(np.float64) - xs.mean()
    y = ys.astype(np.float64) - ys.mean()
    one, zero = np.ones_like(x), np.zeros_like(x)
    # flow = (a x - b y + tx, b x + a y + ty): a similarity transform, minus the identity
    design = np.concatenate([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])
    vectors = flow[ys, xs].astype(np.float64)
    target = np.concatenate([vectors[:, 0], vectors[:, 1]])
    residual = _fit_residuals(design, target, one)
    for _ in range(ROBUST_ITERATIONS):
        scale = max(float(np.median(residual)), ROBUST_MIN_SCALE)
        residual = _fit_residuals(design, target, 1.0 / (1.0 + (residual / scale) ** 2))
    return float(np.median(residual))


def pair_starts(
    frames: int, gap: int = MOTION_GAP, pairs: int = MOTION_PAIRS
) -> tuple[int, list[int]]:
    """The gap and the first frames of the pairs a clip of ``frames`` frames is measured on:
    ``gap`` (at most ``frames - 1``) and up to ``pairs`` evenly spaced starts; no starts for a
    clip of fewer than two frames."""
    gap = min(gap, frames - 1)
    if gap < 1:
        return 0, []
    return gap, sample_indices(frames - gap, pairs)


def motion_residual(
    frames: np.ndarray, masks: np.ndarray, gap: int = MOTION_GAP, pairs: int = MOTION_PAIRS
) -> float:
    """The median over frame pairs of :func:`similarity_residual` of the DIS optical flow from
    a frame to the one ``gap`` later, inside the first frame's eroded mask (clip pixels).

    Args:
        frames: the clip, ``(T, H, W)`` uint8 grey.
        masks: its mask video, ``(T, H, W)`` (non-zero: region).
        gap: frames between a pair's frames (:func:`pair_starts`).
        pairs: frame pairs measured.

    Returns:
        Pixels; NaN when no pair has :data:`MIN_MASK_PX` mask pixels or the clip has one frame.
    """
    if len(frames) != len(masks):
        raise ValueError(f"motion_residual: {len(frames)} frames but {len(masks)} masks")
    gap, starts = pair_starts(len(frames), gap, pairs)
    flow_of = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    kernel = np.ones((ERODE_PX, ERODE_PX), np.uint8)
    residuals = []
    for t in starts:
        inside = cv2.erode((masks[t] > 0).astype(np.uint8), kernel) > 0
        if inside.sum() < MIN_MASK_PX:
            continue
        flow = flow_of.calc(
            np.ascontiguousarray(frames[t]), np.ascontiguousarray(frames[t + gap]), None
        )
        residuals.append(similarity_residual(flow, inside))
    return float(np.median(residuals)) if residuals else float("nan")
