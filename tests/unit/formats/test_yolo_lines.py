"""YOLO label lines keep the part of a polygon inside the image, not its vertices moved in."""

import numpy as np
import pytest

from mosaicflow.formats.masks import clip_to_image, rasterize
from mosaicflow.formats.yolo import det_line, seg_line


def test_a_polygon_past_the_border_keeps_its_area_inside_the_image():
    triangle = np.array([[0, 0], [320, 0], [0, 1920]], float)  # 95 % of a 320x192 image
    inside = clip_to_image(triangle, 320, 192)
    assert rasterize(inside, 192, 320).mean() == pytest.approx(0.95, abs=0.01)
    assert seg_line(0, triangle, 320, 192) == "0 0 1 0 0 1 0 0.9 1"
    assert det_line(0, triangle, 320, 192) == "0 0.5 0.5 1 1"


def test_inside_outside_and_two_corner_polygons():
    square = np.array([[10, 10], [50, 10], [50, 50], [10, 50]], float)
    assert np.array_equal(clip_to_image(square, 320, 192), square)  # inside: unchanged
    outside = square + np.array([400.0, 0.0])
    assert len(clip_to_image(outside, 320, 192)) == 0
    with pytest.raises(ValueError, match="outside the image"):
        det_line(0, outside, 320, 192)
    with pytest.raises(ValueError, match="fewer than 3 distinct vertices"):
        seg_line(0, outside, 320, 192)
    corners = np.array([[-10, -10], [400, 300]], float)  # a box by two corners
    assert det_line(0, corners, 320, 192) == "0 0.5 0.5 1 1"
