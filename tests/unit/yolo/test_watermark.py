"""Clip scoring: the fraction of sampled frames with a watermark over the clip's box."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.yolo.watermark import (
    clip_watermark_fraction,
    overlap_fraction,
    sample_indices,
    watermarked_fraction,
)


def test_overlap_fraction_is_share_of_the_watermark_inside_the_box():
    box = (0, 0, 100, 100)
    assert overlap_fraction(box, np.array([[50, 50, 150, 150]])) == pytest.approx(0.25)
    assert overlap_fraction(box, np.array([[10, 10, 20, 20], [200, 200, 210, 210]])) == 1.0
    assert overlap_fraction(box, np.zeros((0, 4))) == 0.0
    assert overlap_fraction(box, np.array([[100, 0, 120, 20]])) == 0.0  # touching edge only


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 500), st.integers(0, 40))
def test_sample_indices_are_sorted_unique_and_in_range(count, samples):
    picked = sample_indices(count, samples)
    assert picked == sorted(set(picked))
    assert all(0 <= i < count for i in picked)
    assert len(picked) == min(count, samples)
    if samples >= 2 and count > samples:
        assert picked[0] == 0 and picked[-1] == count - 1


def test_watermarked_fraction_counts_frames():
    boxes = [(0, 0, 50, 50)] * 4
    dets = [
        np.array([[10, 10, 20, 20]]),
        np.zeros((0, 4)),
        np.array([[60, 60, 70, 70]]),
        np.array([[40, 40, 60, 60]]),
    ]
    assert watermarked_fraction(dets, boxes) == 0.5
    assert watermarked_fraction(dets, boxes, min_overlap=0.5) == 0.25
    assert watermarked_fraction([], []) == 0.0
    with pytest.raises(ValueError, match="boxes"):
        watermarked_fraction(dets, boxes[:2])


class FakeDetector:
    """Detects a watermark in frames whose top-left pixel is bright."""

    def __init__(self):
        self.seen = 0

    def detect(self, frames):
        self.seen += len(frames)
        return [np.array([[0, 0, 10, 10]]) if f[0, 0, 0] > 0 else np.zeros((0, 4)) for f in frames]


def test_clip_score_samples_frames():
    frames = [np.full((20, 20, 3), 255 if i < 10 else 0, np.uint8) for i in range(40)]
    detector = FakeDetector()
    score = clip_watermark_fraction(detector, frames, [(0, 0, 20, 20)] * 40, samples=8)
    assert detector.seen == 8
    assert score == pytest.approx(2 / 8)
    with pytest.raises(ValueError, match="frames"):
        clip_watermark_fraction(detector, frames, [(0, 0, 1, 1)])
