"""Masks <-> polygons: exact contours, holes, bridges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mosaicflow.formats.masks import (
    bridge_holes,
    instance_mask,
    iou,
    mask_to_instances,
    polygon_area,
    rasterize,
    read_mask,
    write_mask,
)

SETTINGS = settings(
    max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_rasterize_uses_pixel_edge_coordinates():
    mask = rasterize([[1, 1], [3, 1], [3, 3], [1, 3]], 5, 5)
    expected = np.zeros((5, 5), bool)
    expected[1:3, 1:3] = True
    assert (mask == expected).all()


def test_single_pixel_and_thin_line_are_exact():
    mask = np.zeros((8, 9), bool)
    mask[0, 0] = True  # single pixel in the corner
    mask[4, 2:9] = True  # one-pixel line touching the right border
    mask[7, 8] = True  # single pixel in the other corner
    instances = mask_to_instances(mask)
    assert [i.area for i in instances] == [1, 7, 1]
    back = np.zeros_like(mask)
    for inst in instances:
        back |= instance_mask(inst, *mask.shape)
    assert (back == mask).all()


def test_hole_is_kept_and_bridged():
    mask = np.zeros((10, 10), bool)
    mask[1:9, 1:9] = True
    mask[3:6, 3:6] = False
    (inst,) = mask_to_instances(mask)
    assert len(inst.holes) == 1 and inst.area == 64 - 9 and inst.bbox == (1, 1, 8, 8)
    assert (instance_mask(inst, 10, 10) == mask).all()
    bridged = bridge_holes(inst.outer, inst.holes)
    assert (rasterize(bridged, 10, 10) == mask).all()
    # dropping the hole would be wrong: the test can fail
    assert not (rasterize(inst.outer, 10, 10) == mask).all()


@SETTINGS
@given(arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_random_masks_round_trip_exactly(mask):
    instances = mask_to_instances(mask)
    back = np.zeros_like(mask)
    for inst in instances:
        part = instance_mask(inst, *mask.shape)
        assert part.sum() == inst.area
        assert (rasterize(bridge_holes(inst.outer, inst.holes), *mask.shape) == part).all()
        assert not (back & part).any()  # components are disjoint
        back |= part
    assert (back == mask).all()


def test_iou_and_area():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True
    b[1:3] = True
    assert iou(a, b) == pytest.approx(4 / 12)
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    assert polygon_area([[0, 0], [2, 0], [2, 3], [0, 3]]) == 6.0


def test_read_mask_rejects_non_binary(tmp_path):
    import cv2

    good = tmp_path / "good.png"
    write_mask(good, np.eye(5, dtype=bool))
    assert (read_mask(good) == np.eye(5, dtype=bool)).all()
    bad = tmp_path / "bad.png"
    cv2.imwrite(str(bad), np.arange(25, dtype=np.uint8).reshape(5, 5))
    with pytest.raises(ValueError, match=r"bad\.png.*not a binary mask"):
        read_mask(bad)
    with pytest.raises(ValueError, match=r"missing\.png"):
        read_mask(tmp_path / "missing.png")
