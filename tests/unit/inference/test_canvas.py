"""The box-only composite equals the full-frame reference pixel for pixel (random frames, boxes,
masks and overlapping blends), and so do its window conversions and its blend."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.inference.blend import FeatherSettings, blend_into, blend_window, feather_weights
from mosaicflow.inference.canvas import BoxCanvas, FullFrameCanvas, even_window
from mosaicflow.inference.pipeline import crossfade
from mosaicflow.inference.video_io import (
    merge_touched,
    merge_window,
    rgb_to_yuv,
    yuv_to_rgb,
    yuv_window_to_rgb,
)


def random_box(rng: np.random.Generator, height: int, width: int) -> tuple[int, int, int, int]:
    """A box of any parity inside the frame."""
    x0, y0 = int(rng.integers(0, width - 2)), int(rng.integers(0, height - 2))
    x1, y1 = int(rng.integers(x0 + 1, width + 1)), int(rng.integers(y0 + 1, height + 1))
    return x0, y0, x1, y1


def random_weights(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Feathered weights of a random blob (ones inside, a band, zeros), as the pipeline makes
    them, sometimes crossfaded."""
    mask = np.zeros((h, w), bool)
    cy, cx = rng.integers(0, h), rng.integers(0, w)
    ry, rx = rng.integers(1, max(2, h // 2)), rng.integers(1, max(2, w // 2))
    mask[max(0, cy - ry) : cy + ry, max(0, cx - rx) : cx + rx] = True
    weights = feather_weights(mask, float(rng.uniform(2, 12)), FeatherSettings())
    if rng.random() < 0.3:
        weights = crossfade(weights, int(rng.integers(0, 3)), 3)
    return weights


@pytest.mark.parametrize("seed", range(6))
def test_box_canvas_equals_the_full_frame_reference(seed):
    rng = np.random.default_rng(seed)
    height, width = 2 * int(rng.integers(20, 60)), 2 * int(rng.integers(20, 80))
    yuv = rng.integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)
    box_canvas, reference = BoxCanvas(yuv.copy()), FullFrameCanvas(yuv.copy())
    for _ in range(int(rng.integers(1, 5))):  # overlapping clips blend one after another
        box = random_box(rng, height, width)
        x0, y0, x1, y1 = box
        assert np.array_equal(box_canvas.rgb(box), reference.rgb(box))
        patch = rng.integers(0, 256, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
        weights = random_weights(rng, y1 - y0, x1 - x0)
        box_canvas.blend(patch, weights, box)
        reference.blend(patch, weights, box)
    assert box_canvas.blends == reference.blends
    assert np.array_equal(box_canvas.planes(), reference.planes())


def test_a_canvas_without_blends_returns_the_decoded_planes():
    yuv = np.random.default_rng(0).integers(0, 256, (36, 32), dtype=np.uint8)
    canvas = BoxCanvas(yuv)
    canvas.blend(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32), (2, 2, 6, 6))
    assert canvas.planes() is yuv and canvas.blends == 1


def test_window_conversions_equal_the_whole_frame_ones():
    rng = np.random.default_rng(1)
    height, width = 40, 56
    for _ in range(50):
        yuv = rng.integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)
        window = even_window(random_box(rng, height, width), height, width)
        x0, y0, x1, y1 = window
        assert x0 % 2 == y0 % 2 == x1 % 2 == y1 % 2 == 0
        assert np.array_equal(yuv_window_to_rgb(yuv, window), yuv_to_rgb(yuv)[y0:y1, x0:x1])
        composite = yuv_to_rgb(yuv)
        composite[y0:y1, x0:x1] = rng.integers(0, 256, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
        touched = np.zeros((height, width), bool)
        touched[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < 0.5
        expected = merge_touched(yuv, rgb_to_yuv(composite), touched)
        merged = yuv.copy()
        merge_window(merged, composite[y0:y1, x0:x1], touched[y0:y1, x0:x1], window)
        assert np.array_equal(merged, expected)


def test_blend_window_equals_blend_into():
    rng = np.random.default_rng(2)
    for _ in range(30):
        h, w = int(rng.integers(4, 50)), int(rng.integers(4, 50))
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        restored = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        weights = random_weights(rng, h, w)
        expected = frame.copy()
        touched_expected = blend_into(expected, restored, weights, (0, 0, w, h))
        window = frame.copy()
        touched = blend_window(window, restored, weights)
        assert np.array_equal(window, expected) and np.array_equal(touched, touched_expected)
