"""The rigidity signal: flow inside the mask less the best similarity transform."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from mosaicflow.curate.motion import motion_residual, pair_starts, similarity_residual

SIZE = 96


def _texture(seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).uniform(0, 255, (SIZE, SIZE)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def _clip(warp_amp: float, frames: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A textured disc that moves, turns and breathes; with ``warp_amp`` its texture and
    outline also bend (a sine displacement whose phase runs with time)."""
    texture = _texture()
    disc = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(disc, (SIZE // 2, SIZE // 2), 26, 1.0, -1)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    out, masks = [], []
    for t in range(frames):
        angle, scale = 0.02 * t, 1.0 + 0.1 * math.sin(t / 6)
        shift = (0.8 * t - 8, 0.4 * t - 4)
        ca, sa = math.cos(angle) / scale, math.sin(angle) / scale
        dx, dy = xs - SIZE / 2 - shift[0], ys - SIZE / 2 - shift[1]
        qx = ca * dx + sa * dy + SIZE / 2
        qy = -sa * dx + ca * dy + SIZE / 2
        if warp_amp:
            qx, qy = (
                qx + warp_amp * np.sin(2 * np.pi * qy / 60 + 0.25 * t),
                qy + warp_amp * np.sin(2 * np.pi * qx / 50 + 0.25 * t + 1.0),
            )
        tex = cv2.remap(texture, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        alpha = cv2.remap(disc, qx, qy, cv2.INTER_LINEAR)
        out.append(np.clip(alpha * tex + (1 - alpha) * 128, 0, 255).astype(np.uint8))
        masks.append((alpha >= 0.5).astype(np.uint8) * 255)
    return np.stack(out), np.stack(masks)


def test_exact_similarity_flow_leaves_no_residual():
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float64)
    a, b = 0.05, -0.03  # scale and rotation, less the identity
    flow = np.stack([a * xs - b * ys + 2.0, b * xs + a * ys - 1.0], axis=-1)
    mask = np.zeros((40, 50), bool)
    mask[5:35, 10:45] = True
    assert similarity_residual(flow, mask) == pytest.approx(0.0, abs=1e-9)
    bent = flow.copy()
    bent[..., 0] += np.sin(ys / 4.0)
    assert similarity_residual(bent, mask) > 0.3
    assert math.isnan(similarity_residual(flow, np.zeros_like(mask)))


def test_background_pixels_inside_the_mask_leave_a_rigid_region_rigid():
    """A mask that holds a strip of background (30 % of its pixels, moving 3 px otherwise): the
    robust fit follows the region, so its pixels, the median, keep no residual."""
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float64)
    flow = np.stack([0.04 * xs - 0.02 * ys + 1.0, 0.02 * xs + 0.04 * ys - 0.5], axis=-1)
    mask = np.zeros((40, 50), bool)
    mask[5:35, 10:45] = True
    flow[5:14, 10:45] = (-2.0, 2.0)  # the background's own motion
    assert mask[5:14].sum() / mask.sum() == pytest.approx(0.3)
    assert similarity_residual(flow, mask) < 0.05
    bent = flow.copy()
    bent[14:35, 10:45, 0] += np.sin(ys[14:35, 10:45] / 4.0)
    assert similarity_residual(bent, mask) > 0.3


def test_pairs_span_the_clip_and_shorten_in_a_short_clip():
    assert pair_starts(32) == (10, [0, 7, 14, 21])
    assert pair_starts(5) == (4, [0])
    assert pair_starts(1) == (0, [])


def test_a_rigid_region_moves_with_less_residual_than_a_deforming_one():
    rigid = motion_residual(*_clip(0.0))  # the flow's own error: about 0.5 px
    slight = motion_residual(*_clip(1.0))
    bending = motion_residual(*_clip(2.5))
    assert rigid < 0.8, rigid
    assert rigid < slight < bending and bending > 3 * rigid, (rigid, slight, bending)


def test_no_measurable_pair_gives_nan_and_a_length_mismatch_is_refused():
    frames, masks = _clip(0.0, frames=6)
    assert math.isnan(motion_residual(frames[:1], masks[:1]))
    assert math.isnan(motion_residual(frames, np.zeros_like(masks)))
    with pytest.raises(ValueError, match="5 masks"):
        motion_residual(frames, masks[:5])
