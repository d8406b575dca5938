"""Crops: smoothing, border, square growth, no upscaling by default, padding, full frame."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.datasets.clips.crops import (
    crop_image,
    fill_gaps,
    grow_mask,
    median_smooth,
    plan_crop,
)

from .conftest import make_cfg


def test_median_smooth_removes_a_spike():
    values = np.array([[0.0], [0.0], [50.0], [0.0], [0.0]])
    assert median_smooth(values, 3)[:, 0].tolist() == [0, 0, 0, 0, 0]
    assert median_smooth(values, 1)[:, 0].tolist() == values[:, 0].tolist()


def test_fill_gaps_takes_nearest_detection():
    boxes = np.arange(5 * 4, dtype=float).reshape(5, 4)
    filled = fill_gaps(boxes, np.array([True, False, False, False, True]))
    assert filled[:, 0].tolist() == [0, 0, 0, 16, 16]
    with pytest.raises(ValueError, match=r"a clip needs at least one detected frame"):
        fill_gaps(boxes, np.zeros(5, bool))


def test_small_region_grows_to_out_size_without_upscaling():
    cfg = make_cfg(out_size=64, border=0.1, border_min_px=4, smooth_seconds=0)
    boxes = np.array([[100, 100, 120, 130]] * 3, float)
    plan = plan_crop(boxes, (480, 640), cfg, 10)
    assert plan.scale == 1.0 and plan.content == (64, 64) and plan.pad == (0, 0, 0, 0)
    x0, y0, x1, y1 = plan.boxes[0]
    assert (x1 - x0, y1 - y0) == (64, 64) and x0 <= 100 and x1 >= 120 and y0 <= 100 and y1 >= 130


def test_large_region_is_shrunk_and_squared():
    cfg = make_cfg(out_size=64, border=0.0, border_min_px=0, smooth_seconds=0)
    plan = plan_crop(np.array([[10, 10, 210, 110]], float), (480, 640), cfg, 10)
    x0, y0, x1, y1 = plan.boxes[0]
    assert (x1 - x0, y1 - y0) == (200, 200)
    assert plan.scale == pytest.approx(64 / 200) and plan.content == (64, 64)


def test_frame_smaller_than_out_size_is_padded_not_upscaled():
    cfg = make_cfg(out_size=128, smooth_seconds=0)
    plan = plan_crop(np.array([[10, 10, 30, 30]], float), (72, 96), cfg, 10)
    assert plan.scale == 1.0 and plan.content == (72, 96)
    assert plan.pad == (28, 28, 16, 16)
    img = np.full((72, 96, 3), 200, np.uint8)
    out = crop_image(img, plan.boxes[0], plan)
    assert out.shape == (128, 128, 3) and out[0, 0].tolist() == [0, 0, 0]
    assert out[28:100, 16:112].min() == 200


def test_resize_always_upscales_and_full_frame_keeps_everything():
    cfg = make_cfg(out_size=64, resize="always", border=0.0, border_min_px=0, smooth_seconds=0)
    plan = plan_crop(np.array([[10, 10, 42, 42]], float), (480, 640), cfg, 10)
    assert plan.scale == 2.0 and plan.content == (64, 64)
    cfg = make_cfg(out_size=64, crop="full_frame")
    plan = plan_crop(np.array([[10, 10, 42, 42]], float), (48, 96), cfg, 10)
    assert plan.boxes[0].tolist() == [0, 0, 96, 48] and plan.content == (32, 64)
    assert plan.pad == (16, 16, 0, 0)


def test_mask_crop_stays_binary_and_grows():
    cfg = make_cfg(out_size=16, resize="always", smooth_seconds=0, border_min_px=0)
    mask = np.zeros((100, 100), np.uint8)
    mask[20:60, 30:50] = 255
    plan = plan_crop(np.array([[30, 20, 50, 60]], float), (100, 100), cfg, 10)
    out = crop_image(mask, plan.boxes[0], plan, mask=True)
    assert set(np.unique(out).tolist()) <= {0, 255} and out.any()
    grown = grow_mask(mask, 3)
    assert grown.sum() > mask.sum() and (grown[mask > 0] == 255).all()


@settings(max_examples=30, deadline=None)
@given(
    x=st.integers(0, 200),
    y=st.integers(0, 100),
    w=st.integers(1, 150),
    h=st.integers(1, 150),
    out=st.sampled_from([16, 64, 128]),
    square=st.booleans(),
    resize=st.sampled_from(["down", "always"]),
    jitter=st.integers(0, 20),
)
def test_crop_is_inside_frame_and_output_is_square(x, y, w, h, out, square, resize, jitter):
    frame = (180, 240)
    cfg = make_cfg(out_size=out, square=square, resize=resize, smooth_seconds=0.3)
    boxes = np.array(
        [[x + j, y, min(x + j + w, 240), min(y + h, 180)] for j in (0, jitter, 0)], float
    )
    plan = plan_crop(boxes, frame, cfg, 10)
    sizes = {(int(b[2] - b[0]), int(b[3] - b[1])) for b in plan.boxes}
    assert len(sizes) == 1
    assert (plan.boxes[:, :2] >= 0).all() and (plan.boxes[:, 2] <= 240).all()
    assert (plan.boxes[:, 3] <= 180).all()
    if resize == "down":
        assert plan.scale <= 1.0
    top, bottom, left, right = plan.pad
    assert plan.content[0] + top + bottom == out and plan.content[1] + left + right == out
    img = np.zeros((*frame, 3), np.uint8)
    assert crop_image(img, plan.boxes[1], plan).shape == (out, out, 3)
