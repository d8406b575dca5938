"""mpdecimate re-implementation against a literal transcription of vf_mpdecimate.c."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.video.mpdecimate import (
    Mpdecimate,
    MpdecimateParams,
    block_sads,
    block_threshold,
    decimate,
    grid_shape,
    plane_differs,
)


def c_diff_planes(cur: np.ndarray, ref: np.ndarray, hi: int, lo: int, frac: float) -> bool:
    """diff_planes() of vf_mpdecimate.c, loop for loop (slow, obviously right)."""
    h, w = cur.shape
    t = int(np.float32((w // 16) * (h // 16)) * np.float32(frac))
    c = 0
    a, b = cur.astype(np.int64), ref.astype(np.int64)
    for y in range(0, h - 7, 4):
        for x in range(8, w - 7, 4):
            d = int(np.abs(a[y : y + 8, x : x + 8] - b[y : y + 8, x : x + 8]).sum())
            if d > hi:
                return True
            if d > lo:
                c += 1
                if c > t:
                    return True
    return False


def c_filter(frames, hi, lo, frac, max_drop, keep=0, semantics="5.1"):
    """filter_frame()/decimate_frame() of FFmpeg 5.1 and 7.1, transcribed."""
    ref = None
    drop_count = keep_count = 0
    out = []

    def similar(cur):
        return not any(c_diff_planes(c, r, hi, lo, frac) for c, r in zip(cur, ref, strict=True))

    for cur in frames:
        if ref is None:
            result = "update"
        elif semantics == "5.1":
            limited = (max_drop > 0 and drop_count >= max_drop) or (
                max_drop < 0 and drop_count - 1 > max_drop
            )
            result = "update" if limited or not similar(cur) else "drop"
        else:
            if not similar(cur):
                result = "update"
            elif (max_drop > 0 and drop_count >= max_drop) or (
                max_drop < 0 and drop_count - 1 > max_drop
            ):
                result = "keep"
            elif keep > 0 and keep_count > -1 and keep_count < keep:
                keep_count += 1
                result = "keep"
            else:
                result = "drop"
        if result == "drop":
            drop_count = max(1, drop_count + 1)
            keep_count = -1
        elif result == "keep":
            drop_count = min(-1, drop_count - 1)
        else:
            ref = cur
            drop_count = min(-1, drop_count - 1)
            keep_count = 0
        out.append(result != "drop")
    return out


def test_grid_matches_ffmpeg_loops():
    assert grid_shape(8, 16) == (1, 1)
    assert grid_shape(7, 100) == (0, len(range(8, 93, 4)))
    assert grid_shape(179, 321) == (len(range(0, 172, 4)), len(range(8, 314, 4)))
    assert block_threshold(360, 640, 0.33) == int(np.float32(22 * 40) * np.float32(0.33))
    assert block_threshold(15, 640, 0.33) == 0


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 48),
    seed=st.integers(0, 2**16),
    amp=st.sampled_from([1, 4, 40, 255]),
)
def test_block_sads_and_plane_differs_match_brute_force(h, w, seed, amp):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 256, (h, w), dtype=np.uint8)
    noise = rng.integers(-amp, amp + 1, (h, w))
    cur = np.clip(ref.astype(int) + noise * (rng.random((h, w)) < 0.3), 0, 255).astype(np.uint8)
    sads = block_sads(cur, ref)
    ny, nx = grid_shape(h, w)
    assert sads.shape == (max(ny, 0), max(nx, 0))
    for i, y in enumerate(range(0, h - 7, 4)):
        for j, x in enumerate(range(8, w - 7, 4)):
            expect = np.abs(cur[y : y + 8, x : x + 8].astype(int) - ref[y : y + 8, x : x + 8]).sum()
            assert sads[i, j] == expect
    for hi, lo, frac in [(768, 320, 0.33), (12800, 3200, 0.33), (100, 10, 0.0), (10**6, 0, 1.0)]:
        assert plane_differs(cur, ref, hi, lo, frac) == c_diff_planes(cur, ref, hi, lo, frac)


def test_first_eight_columns_are_ignored():
    ref = np.zeros((32, 64), np.uint8)
    cur = ref.copy()
    cur[:, :8] = 255  # FFmpeg's x loop starts at 8
    assert not plane_differs(cur, ref, 768, 320, 0.33)
    cur[:, 8] = 255
    assert plane_differs(cur, ref, 768, 320, 0.33)


def _random_sequence(seed: int, n: int = 30) -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (24, 40), dtype=np.uint8)
    frames = []
    for _ in range(n):
        if rng.random() < 0.25:
            base = rng.integers(0, 256, (24, 40), dtype=np.uint8)
        amp = int(rng.choice([0, 2, 8, 30]))
        y = np.clip(base.astype(int) + rng.integers(-amp, amp + 1, base.shape), 0, 255)
        y = y.astype(np.uint8)
        u = np.full((12, 20), int(rng.choice([128, 128, 128, 140])), np.uint8)
        frames.append((y, u, u.copy()))
    return frames


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    max_drop=st.integers(-4, 4),
    keep=st.integers(0, 3),
    semantics=st.sampled_from(["5.1", "7.1"]),
)
def test_state_machine_matches_transcription(seed, max_drop, keep, semantics):
    keep = keep if semantics == "7.1" else 0
    frames = _random_sequence(seed)
    params = MpdecimateParams(
        hi=700, lo=150, frac=0.2, max=max_drop, keep=keep, semantics=semantics
    )
    expect = c_filter(frames, 700, 150, 0.2, max_drop, keep, semantics)
    assert decimate(frames, params) == expect


def test_identical_frames_drop_and_max_caps_runs():
    frame = (np.zeros((16, 32), np.uint8),)
    frames = [frame] * 7
    assert decimate(frames, MpdecimateParams()) == [True] + [False] * 6
    assert decimate(frames, MpdecimateParams(max=2)) == [
        True,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    # max < 0: FFmpeg's "minimum interval" counts the drop itself: -2 and -1 alternate,
    # -3 keeps two frames between drops
    assert decimate(frames, MpdecimateParams(max=-2)) == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
    assert decimate(frames, MpdecimateParams(max=-3)) == [
        True,
        True,
        False,
        True,
        True,
        False,
        True,
    ]
    keep71 = MpdecimateParams(keep=2, semantics="7.1")
    assert decimate(frames, keep71) == [True, True, True, False, False, False, False]


def test_reference_is_last_kept_frame_not_previous():
    # A slow drift: each step is below the thresholds, the sum is not.
    frames = [(np.full((32, 64), 10 + 2 * i, np.uint8),) for i in range(10)]
    keep = decimate(frames, MpdecimateParams(hi=64 * 5, lo=64 * 5, frac=0.0))
    # SAD per block = 64 * |delta|: drops until the distance to the kept frame exceeds 5
    assert keep == [True, False, False, True, False, False, True, False, False, True]


def test_size_change_keeps_the_frame():
    dec = Mpdecimate(MpdecimateParams())
    assert dec.push((np.zeros((16, 32), np.uint8),))
    assert dec.push((np.zeros((18, 32), np.uint8),))
    assert not dec.push((np.zeros((18, 32), np.uint8),))


def test_params_validation_and_presets():
    assert MpdecimateParams.preset("anime").hi == 64 * 200
    assert MpdecimateParams.preset("anime").lo == 64 * 50
    assert MpdecimateParams.preset("default") == MpdecimateParams()
    assert "keep=2" in MpdecimateParams(keep=2, semantics="7.1").ffmpeg_filter()
    with pytest.raises(ValueError, match="preset"):
        MpdecimateParams.preset("cartoon")
    with pytest.raises(ValueError, match=r"7\.1"):
        MpdecimateParams(keep=1)
    with pytest.raises(ValueError, match="semantics"):
        MpdecimateParams(semantics="6.0")
    with pytest.raises(ValueError, match="frac"):
        MpdecimateParams(frac=1.5)
