"""Block-size estimators and region measurements."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mosaicflow.mosaic.blocksize import (
    RegionStats,
    area_sigmoid_size,
    area_size,
    coverage_size,
    estimate_block_sizes,
    long_side_size,
    region_stats,
)
from mosaicflow.mosaic.config import SigmoidJitterConfig


@pytest.mark.parametrize(
    "area, expected",
    [
        (0, 5.0),
        (1000, 6.0),
        (3000, 6.4),
        (5000, 6.8),
        (20_000, 7.75),
        (50_000, 9.0),
        (100_000, 13.0),
    ],
)
def test_area_piecewise_at_512(area, expected):
    assert area_size(area, (512, 900)) == pytest.approx(expected)


def test_area_is_normalised_to_a_512_short_side():
    # The same region fraction of a frame twice as large gets blocks twice as large.
    assert area_size(4 * 10_000, (1024, 1800)) == pytest.approx(2 * area_size(10_000, (512, 900)))


def test_area_grows_with_the_region():
    sizes = [area_size(a, (512, 512)) for a in np.linspace(0, 200_000, 50)]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(sizes))


def test_sigmoid_tracks_the_curve_and_is_seeded():
    no_jitter = SigmoidJitterConfig(narrow=0.0, wide=0.0, p_wide=0.0)
    rng = np.random.default_rng(0)
    assert area_sigmoid_size(50_000, (512, 512), no_jitter, rng) in (12, 13)
    assert area_sigmoid_size(0, (512, 512), no_jitter, rng) in (5, 6)
    jitter = SigmoidJitterConfig(narrow=1.0, wide=2.0, p_wide=0.25)
    draws = [
        area_sigmoid_size(20_000, (512, 512), jitter, np.random.default_rng(s)) for s in range(50)
    ]
    again = [
        area_sigmoid_size(20_000, (512, 512), jitter, np.random.default_rng(s)) for s in range(50)
    ]
    assert draws == again
    centre = area_sigmoid_size(20_000, (512, 512), no_jitter, rng)
    assert len(set(draws)) > 2
    assert all(abs(d - centre) <= 3 for d in draws)
    assert min(draws) >= 3


def test_coverage_and_long_side():
    frame = (1080, 1920)
    assert coverage_size(RegionStats(0, 0, 0, 0), frame, (0.01, 0.018)) == pytest.approx(19.2)
    full = RegionStats(0, 0, 1920, 1080)
    assert coverage_size(full, frame, (0.01, 0.018)) == pytest.approx(0.018 * 1920)
    assert long_side_size(frame) == 19
    assert long_side_size((100, 120)) == 4


def test_region_stats_of_masks_clips_and_boxes():
    mask = np.zeros((50, 60), np.uint8)
    mask[10:20, 5:25] = 255
    stats = region_stats(mask)
    assert (stats.mask_area, stats.box_w, stats.box_h, stats.box_area) == (200, 20, 10, 200)
    clip = np.stack([mask, np.zeros_like(mask), mask])  # the empty frame is ignored
    assert region_stats(clip) == stats
    assert region_stats((5, 10, 25, 20)) == RegionStats(200.0, 200.0, 20.0, 10.0)
    assert region_stats(np.zeros((3, 8, 8), bool)).mask_area == 0
    with pytest.raises(ValueError, match="box"):
        region_stats((1, 2, 3))
    with pytest.raises(ValueError, match="shape"):
        region_stats(np.zeros((2, 2, 2, 2)))


def test_all_estimates_are_reported():
    stats = RegionStats(5000, 6000, 80, 75)
    out = estimate_block_sizes(
        stats,
        (360, 640),
        area_measure="box",
        jitter=SigmoidJitterConfig(1.0, 2.0, 0.25),
        coverage_range=(0.01, 0.018),
        rng=np.random.default_rng(1),
    )
    assert set(out) == {"area", "area_sigmoid", "coverage", "long_side"}
    assert out["long_side"] == 6
    assert out["area"] == pytest.approx(area_size(6000, (360, 640)), abs=1e-3)
