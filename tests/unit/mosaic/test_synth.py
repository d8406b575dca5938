"""Mosaic synthesis: properties (hypothesis), a per-block oracle, clip consistency, failures."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaicflow.mosaic.synth import MosaicParams, apply_mosaic, extend_masks, sample_clip_params

from .conftest import make_cfg

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def params(**kw) -> MosaicParams:
    base = dict(
        block_h=4,
        block_w=4,
        shape="squa_avg",
        offset_y=0,
        offset_x=0,
        feather=0,
        dilate_radius=0,
        close_radius=0,
        incomplete_blocks=False,
        block_select="center",
    )
    return MosaicParams(**{**base, **kw})


def oracle(frame: np.ndarray, ext: np.ndarray, p: MosaicParams) -> tuple[np.ndarray, np.ndarray]:
    """Straightforward per-block mosaic of one frame (no feathering), the test's reference."""
    height, width = ext.shape
    out, mask = frame.astype(np.float64), np.zeros(ext.shape, bool)
    first_y = p.offset_y - p.block_h if p.offset_y else 0
    first_x = p.offset_x - p.block_w if p.offset_x else 0
    for y0 in range(first_y, height, p.block_h):
        for x0 in range(first_x, width, p.block_w):
            ys = slice(max(y0, 0), min(y0 + p.block_h, height))
            xs = slice(max(x0, 0), min(x0 + p.block_w, width))
            cy, cx = (ys.start + ys.stop - 1) // 2, (xs.start + xs.stop - 1) // 2
            if p.incomplete_blocks or p.block_select == "any":
                chosen = ext[ys, xs].any()
            else:
                chosen = ext[cy, cx] > 0
            if not chosen:
                continue
            value = frame[cy, cx] if p.shape == "squa_mid" else frame[ys, xs].mean(axis=(0, 1))
            pixels = ext[ys, xs] > 0 if p.incomplete_blocks else np.ones(ext[ys, xs].shape, bool)
            out[ys, xs][pixels] = value
            mask[ys, xs] |= pixels
    return out, mask


@st.composite
def cases(draw, feather: bool = False):
    t = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    shape = draw(st.sampled_from(["squa_mid", "squa_avg", "rect_avg"]))
    bh = draw(st.integers(1, 9))
    bw = bh + draw(st.integers(1, 6)) if shape == "rect_avg" else bh
    p = params(
        block_h=bh,
        block_w=bw,
        shape=shape,
        offset_y=draw(st.integers(0, bh - 1)),
        offset_x=draw(st.integers(0, bw - 1)),
        feather=draw(st.integers(0, 12)) if feather else 0,
        dilate_radius=draw(st.integers(0, 3)),
        close_radius=draw(st.integers(0, 3)),
        incomplete_blocks=draw(st.booleans()),
        block_select=draw(st.sampled_from(["center", "any"])),
    )
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    kind = draw(st.sampled_from(["rect", "noise", "pixel", "border", "empty"]))
    masks = np.zeros((t, h, w), np.uint8)
    for i in range(t):
        if kind == "rect":
            y0, x0 = rng.integers(h), rng.integers(w)
            masks[i, y0 : y0 + rng.integers(1, h + 1), x0 : x0 + rng.integers(1, w + 1)] = 255
        elif kind == "noise":
            masks[i] = (rng.random((h, w)) < 0.3) * 255
        elif kind == "pixel":  # tiny masks
            masks[i, rng.integers(h), rng.integers(w)] = 1
        elif kind == "border":  # masks touching the frame border
            masks[i, : rng.integers(1, h + 1), :] = 255
            masks[i, :, w - rng.integers(1, w + 1) :] = 255
    return frames, masks, p


@SETTINGS
@given(cases())
def test_matches_the_per_block_oracle(case):
    frames, masks, p = case
    out, mosaic_mask = apply_mosaic(frames, masks, p)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert mosaic_mask.shape == masks.shape and set(np.unique(mosaic_mask)) <= {0, 255}
    ext = extend_masks(masks, p)
    for t in range(len(frames)):
        expected, expected_mask = oracle(frames[t], ext[t], p)
        np.testing.assert_array_equal(mosaic_mask[t] > 0, expected_mask)
        # Means are rounded by OpenCV (ties may go either way); centre pixels are exact.
        tolerance = 0 if p.shape == "squa_mid" else 0.5 + 1e-9
        assert np.abs(out[t].astype(np.float64) - expected).max(initial=0) <= tolerance


@SETTINGS
@given(cases(feather=True))
def test_outside_mask_unchanged_and_blocks_constant(case):
    frames, masks, p = case
    out, mosaic_mask = apply_mosaic(frames, masks, p)
    outside = mosaic_mask == 0
    np.testing.assert_array_equal(out[outside], frames[outside])  # also with feathering
    ext = extend_masks(masks, p)
    assert np.all(ext[masks > 0] > 0)  # the extension only grows the mask
    if p.incomplete_blocks:
        np.testing.assert_array_equal(mosaic_mask, ext)  # cut exactly by the extended mask
    elif p.block_select == "any":
        assert np.all(mosaic_mask[ext > 0] > 0)  # every extended-mask pixel is covered
    if p.feather <= 1:
        first_y = p.offset_y - p.block_h if p.offset_y else 0
        first_x = p.offset_x - p.block_w if p.offset_x else 0
        rows = (np.arange(frames.shape[1]) - first_y) // p.block_h
        cols = (np.arange(frames.shape[2]) - first_x) // p.block_w
        block_id = rows[:, None] * 10_000 + cols[None, :]
        for t in range(len(frames)):
            inside = mosaic_mask[t] > 0
            ids, pixels = block_id[inside], out[t][inside].astype(np.int64)
            for channel in range(3):
                low = np.full(block_id.max() + 1, 999)
                high = np.full(block_id.max() + 1, -1)
                np.minimum.at(low, ids, pixels[:, channel])
                np.maximum.at(high, ids, pixels[:, channel])
                assert np.array_equal(low[ids], high[ids]), "a block is not constant"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_same_seed_same_output(seed):
    cfg = make_cfg()
    rng = np.random.default_rng(99)
    frames = rng.integers(0, 256, (3, 48, 64, 3), dtype=np.uint8)
    masks = np.zeros((3, 48, 64), np.uint8)
    masks[:, 10:30, 12:40] = 255
    a = sample_clip_params(cfg, masks, frames.shape[1:], np.random.default_rng(seed))
    b = sample_clip_params(cfg, masks, frames.shape[1:], np.random.default_rng(seed))
    assert a == b
    out_a, mask_a = apply_mosaic(frames, masks, a)
    out_b, mask_b = apply_mosaic(frames, masks, b)
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(mask_a, mask_b)


def test_one_grid_for_the_whole_clip():
    """A moving region in a static scene: every frame's blocks come from the same grid."""
    rng = np.random.default_rng(3)
    still = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    frames = np.stack([still] * 6)
    masks = np.zeros((6, 60, 80), np.uint8)
    for t in range(6):
        masks[t, 10 + t : 40 + t, 5 + 3 * t : 35 + 3 * t] = 255
    p = params(block_h=6, block_w=6, offset_y=2, offset_x=5)
    out, mosaic_mask = apply_mosaic(frames, masks, p)
    reference, reference_mask = apply_mosaic(still, masks.max(axis=0), p)
    for t in range(6):
        inside = mosaic_mask[t] > 0
        # Same grid and same content: each frame's mosaic is a part of the union's mosaic.
        assert np.all(reference_mask[inside] > 0)
        np.testing.assert_array_equal(out[t][inside], reference[inside])
        # Blocks start at the same offset in every frame.
        ys, xs = np.nonzero(inside)
        assert (ys.min() - 2) % 6 == 0 and (xs.min() - 5) % 6 == 0


def test_image_equals_one_frame_clip_and_empty_mask_is_identity():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (33, 47, 3), dtype=np.uint8)
    mask = np.zeros((33, 47), bool)
    mask[4:20, 9:30] = True
    p = params(block_h=5, block_w=8, shape="rect_avg", offset_y=1, offset_x=3, feather=6)
    single, single_mask = apply_mosaic(image, mask, p)
    clip, clip_mask = apply_mosaic(image[None], mask[None], p)
    np.testing.assert_array_equal(single, clip[0])
    np.testing.assert_array_equal(single_mask, clip_mask[0])
    assert single_mask.any() and not np.array_equal(single, image)
    empty, empty_mask = apply_mosaic(image, np.zeros_like(mask), p)
    np.testing.assert_array_equal(empty, image)
    assert not empty_mask.any()


def test_inputs_are_not_modified():
    rng = np.random.default_rng(6)
    frames = rng.integers(0, 256, (2, 20, 20, 3), dtype=np.uint8)
    masks = np.full((2, 20, 20), 255, np.uint8)
    before = frames.copy(), masks.copy()
    apply_mosaic(frames, masks, params(dilate_radius=2, feather=4))
    np.testing.assert_array_equal(frames, before[0])
    np.testing.assert_array_equal(masks, before[1])


def test_bad_inputs_fail_with_shapes_named():
    frames = np.zeros((2, 10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="does not match"):
        apply_mosaic(frames, np.zeros((2, 10, 11), bool), params())
    with pytest.raises(ValueError, match="uint8"):
        apply_mosaic(frames.astype(np.float32), np.zeros((2, 10, 10), bool), params())
    with pytest.raises(ValueError, match="offset"):
        params(offset_y=4)
    with pytest.raises(ValueError, match="shape"):
        params(shape="circle")


def test_sampled_params_follow_the_config(cfg):
    masks = np.zeros((2, 360, 640), np.uint8)
    masks[:, 100:200, 200:330] = 255
    drawn = [
        sample_clip_params(cfg, masks, (360, 640), np.random.default_rng(s)) for s in range(400)
    ]
    shapes = [p.shape for p in drawn]
    assert abs(shapes.count("rect_avg") / 400 - 0.45) < 0.08
    assert abs(shapes.count("squa_mid") / 400 - 0.25) < 0.08
    feathered = [p.feather > 0 for p in drawn]
    assert 0.55 < np.mean(feathered) < 0.85
    for p in drawn:
        base = p.estimates[p.method]
        assert p.block_h == max(cfg.min_block_size, round(base * p.size_scale))
        assert 0.7 <= p.size_scale <= 2.2
        assert p.feather <= round(p.block_h * 2.5)
        if p.shape == "rect_avg":
            assert 1.1 <= p.rect_ratio <= 1.8 and p.block_w > p.block_h
        else:
            assert p.block_w == p.block_h
        assert 0 <= p.offset_y < p.block_h and 0 <= p.offset_x < p.block_w
    # Only the random grid offset switch changes the offsets.
    fixed = sample_clip_params(
        make_cfg(random_grid_offset=False), masks, (360, 640), np.random.default_rng(1)
    )
    assert (fixed.offset_y, fixed.offset_x) == (0, 0)


def test_params_round_trip_through_json(cfg):
    mask = np.zeros((100, 120), np.uint8)
    mask[20:60, 30:90] = 255
    p = sample_clip_params(cfg, mask, mask.shape, np.random.default_rng(11))
    data = json.loads(json.dumps(p.to_dict()))
    assert data["version"] == 1 and set(data["estimates"]) == {
        "area",
        "area_sigmoid",
        "coverage",
        "long_side",
    }
    assert MosaicParams.from_dict(data) == p
    with pytest.raises(ValueError, match="version"):
        MosaicParams.from_dict({**data, "version": 99})


def test_rescaled_params():
    p = params(
        block_h=10,
        block_w=15,
        shape="rect_avg",
        offset_y=9,
        offset_x=4,
        feather=20,
        dilate_radius=5,
        frame_shape=(512, 512),
    )
    half = p.rescaled(0.5)
    assert (half.block_h, half.block_w, half.feather, half.dilate_radius) == (5, 8, 10, 2)
    assert half.offset_y < half.block_h and half.frame_shape == (256, 256)
    tiny = replace(p, block_h=1, block_w=2, offset_y=0, offset_x=1).rescaled(0.1)
    assert tiny.block_h >= 1 and tiny.block_w >= 1


@pytest.mark.parametrize("radius", [5, 13, 40])
@pytest.mark.parametrize("mode", ["dilate", "close"])
def test_large_extensions_stay_close_to_the_exact_ones(radius, mode):
    import cv2

    mask = np.zeros((1, 150, 170), np.uint8)
    cv2.ellipse(mask[0], (80, 70), (30, 18), 20, 0, 360, 255, -1)
    mask[0, 60:64, 110:150] = 255  # a thin arm and a gap for the closing to fill
    mask[0, 60:64, 155:170] = 255  # touches the right border
    kw = {"dilate_radius": radius} if mode == "dilate" else {"close_radius": radius}
    got = extend_masks(mask, params(**kw))[0] > 0
    assert np.all(got[mask[0] > 0])
    slack = 2 * -(-radius // 6) if radius > 6 else 0

    def exact(r: int) -> np.ndarray:
        if r <= 0:
            return mask[0] > 0
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        if mode == "dilate":
            return cv2.dilate(mask[0], k) > 0
        padded = cv2.copyMakeBorder(mask[0], r, r, r, r, cv2.BORDER_REPLICATE)
        return cv2.morphologyEx(padded, cv2.MORPH_CLOSE, k)[r:-r, r:-r] > 0

    if mode == "dilate":
        assert np.all(got[exact(radius - slack)])
        assert not np.any(got & ~exact(radius + slack))
    else:
        # A closing lies between the mask and its dilation, and fills what the exact one fills.
        assert not np.any(got & ~exact_dilation(mask[0], radius + slack))
        filled = exact(max(radius - slack, 0))
        assert got[filled].mean() > 0.99  # pooling may leave a few pixels of thin gaps open


def exact_dilation(mask: np.ndarray, r: int) -> np.ndarray:
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask, k) > 0


@pytest.mark.parametrize("offset", [0, 3, 7])
def test_window_processing_equals_whole_frame(offset):
    """Large extensions run in a window around the region: same result as on the whole frame."""
    rng = np.random.default_rng(offset)
    frames = rng.integers(0, 256, (2, 150, 170, 3), dtype=np.uint8)
    masks = np.zeros((2, 150, 170), np.uint8)
    masks[0, 70 + offset : 95, 80:120] = 255
    masks[1, 75 : 100 - offset, 84:126] = 255
    p = params(
        block_h=9,
        block_w=9,
        offset_y=offset,
        offset_x=8 - offset,
        dilate_radius=17,
        close_radius=23,
    )
    out, mosaic_mask = apply_mosaic(frames, masks, p)
    ext = extend_masks(masks, p)
    for t in range(2):
        expected, expected_mask = oracle(frames[t], ext[t], p)
        np.testing.assert_array_equal(mosaic_mask[t] > 0, expected_mask)
        assert np.abs(out[t].astype(np.float64) - expected).max() <= 0.5 + 1e-9


@pytest.mark.parametrize("block", [49, 98])
def test_large_blocks_are_placed_exactly(block):
    """OpenCV's INTER_NEAREST misplaces rows for some factors (49 px): expansion must be exact."""
    rng = np.random.default_rng(block)
    frames = rng.integers(0, 256, (1, 3 * block + 7, 2 * block + 5, 3), dtype=np.uint8)
    masks = np.full(frames.shape[:3], 255, np.uint8)
    p = params(block_h=block, block_w=block, offset_y=3, offset_x=5)
    out, mosaic_mask = apply_mosaic(frames, masks, p)
    expected, expected_mask = oracle(frames[0], extend_masks(masks, p)[0], p)
    np.testing.assert_array_equal(mosaic_mask[0] > 0, expected_mask)
    assert np.abs(out[0].astype(np.float64) - expected).max() <= 0.5 + 1e-9
