"""Tracks and clip cutting, crops with an aspect-preserving pad, feathering, plane merging."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.inference.blend import FeatherSettings, blend_into, feather_weights
from mosaicflow.inference.crop import CropSettings, crop_frame, plan_clip_crop, uncrop_frame
from mosaicflow.inference.protocols import Detections
from mosaicflow.inference.tracks import ClipCutter, Instance, instances_from_detections
from mosaicflow.inference.video_io import FrameClock, merge_touched, rgb_to_yuv, yuv_to_rgb


def inst(x0: int, y0: int, x1: int, y1: int) -> Instance:
    return Instance((x0, y0, x1, y1), np.ones((y1 - y0, x1 - x0), bool))


def test_instances_are_compact_and_empty_masks_dropped():
    mask = np.zeros((2, 10, 12), bool)
    mask[0, 2:5, 3:9] = True
    found = instances_from_detections(Detections(mask, np.array([0.9, 0.5], np.float32)))
    assert len(found) == 1
    assert found[0].box == (3, 2, 9, 5) and found[0].mask.shape == (3, 6)
    assert found[0].score == pytest.approx(0.9)
    assert np.array_equal(found[0].full_mask(10, 12), mask[0])


def test_clips_end_at_gaps_and_at_the_end():
    cutter = ClipCutter(max_clip_frames=100)
    script = [[inst(0, 0, 10, 10)]] * 3 + [[]] + [[inst(1, 0, 11, 10)]] * 2
    finished = [clip for n, found in enumerate(script) for clip in cutter.push(n, found)]
    finished += cutter.finish()
    assert [(c.start, c.end, c.reason) for c in finished] == [(0, 2, "gap"), (4, 5, "end")]


def test_long_tracks_are_cut_at_max_length_and_keep_their_id():
    cutter = ClipCutter(max_clip_frames=4)
    finished = []
    for n in range(10):
        finished += cutter.push(n, [inst(n, 0, n + 10, 10)])  # moving: IoU stays high
        open_start = cutter.earliest_open_frame()
        assert open_start is None or n - open_start + 1 < 4
    finished += cutter.finish()
    assert [(c.start, len(c.instances), c.reason) for c in finished] == [
        (0, 4, "max_length"),
        (4, 4, "max_length"),
        (8, 2, "end"),
    ]
    assert {c.track_id for c in finished} == {0}


def test_instances_join_the_overlapping_track_and_others_start_new_ones():
    cutter = ClipCutter(max_clip_frames=50, min_iou=0.3)
    a, b = inst(0, 0, 10, 10), inst(30, 30, 40, 40)
    cutter.push(0, [a, b])
    moved_b, far = inst(31, 30, 41, 40), inst(0, 20, 10, 30)
    ended = cutter.push(1, [far, moved_b])
    assert [(c.track_id, c.reason) for c in ended] == [(a.track_id, "gap")]
    assert moved_b.track_id == b.track_id
    assert far.track_id not in (a.track_id, b.track_id)
    ended = cutter.cut_scene()
    assert sorted(c.reason for c in ended) == ["scene_cut"] * 2
    assert cutter.earliest_open_frame() is None


def test_a_short_gap_is_bridged_with_the_union_of_the_masks_around_it():
    cutter = ClipCutter(max_clip_frames=100, max_gap=2)
    before, after = inst(0, 0, 10, 10), inst(4, 2, 14, 12)
    script = [[before], [], [], [after], [inst(4, 2, 14, 12)]]
    finished = []
    for n, found in enumerate(script):
        finished += cutter.push(n, found)
        if n in (1, 2):  # the gap's frames wait for the track
            assert cutter.earliest_open_frame() == 0
    finished += cutter.finish()
    assert [(c.start, c.end, c.reason) for c in finished] == [(0, 4, "end")]
    filled = finished[0].instances[1:3]
    assert all(f.bridged and f.score == 0.0 for f in filled)
    assert not any(i.bridged for i in finished[0].instances[::3])
    union = before.full_mask(20, 20) | after.full_mask(20, 20)
    assert all(np.array_equal(f.full_mask(20, 20), union) for f in filled)
    assert filled[0].box == (0, 0, 14, 12)


def test_a_gap_longer_than_max_gap_ends_the_clip_at_its_last_detection():
    cutter = ClipCutter(max_clip_frames=100, max_gap=2)
    script = [[inst(0, 0, 10, 10)]] * 2 + [[]] * 3 + [[inst(0, 0, 10, 10)]]
    finished = [clip for n, found in enumerate(script) for clip in cutter.push(n, found)]
    finished += cutter.finish()
    assert [(c.start, c.end, c.reason) for c in finished] == [(0, 1, "gap"), (5, 5, "end")]
    assert not any(i.bridged for c in finished for i in c.instances)


def test_a_gap_right_after_a_max_length_cut_is_bridged_in_the_next_clip():
    cutter = ClipCutter(max_clip_frames=3, max_gap=1)
    script = [[inst(0, 0, 10, 10)]] * 3 + [[]] + [[inst(0, 0, 10, 10)]] * 2
    finished = []
    for n, found in enumerate(script):
        finished += cutter.push(n, found)
        if n == 3:
            assert cutter.earliest_open_frame() == 3  # the missed frame stays buffered
    finished += cutter.finish()
    assert [(c.start, c.end, c.reason) for c in finished] == [
        (0, 2, "max_length"),
        (3, 5, "max_length"),
    ]
    assert [i.bridged for i in finished[1].instances] == [True, False, False]


def test_frames_must_be_pushed_in_order():
    cutter = ClipCutter(max_clip_frames=5)
    cutter.push(0, [])
    with pytest.raises(ValueError, match="in order"):
        cutter.push(2, [])


@pytest.mark.parametrize(
    ("frame_shape", "box", "size"),
    [
        ((48, 64), (20, 10, 40, 30), 32),  # crop grown to the input size: no scaling, no pad
        ((40, 100), (30, 5, 70, 35), 64),  # frame lower than the input size: padded
        ((300, 400), (50, 40, 250, 140), 64),  # large region: shrunk to fit
    ],
)
def test_crop_keeps_the_aspect_and_round_trips(frame_shape, box, size):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (*frame_shape, 3), dtype=np.uint8)
    crop = plan_clip_crop(np.array([box, box], float), frame_shape, size, CropSettings())
    plan = crop.plan
    x0, y0, x1, y1 = (int(v) for v in plan.boxes[0])
    assert 0 <= x0 < x1 <= frame_shape[1] and 0 <= y0 < y1 <= frame_shape[0]
    assert x0 <= box[0] and y0 <= box[1] and x1 >= box[2] and y1 >= box[3]  # region inside
    cropped = crop_frame(frame, plan.boxes[0], plan)
    assert cropped.shape == (size, size, 3)
    sh, sw = plan.content
    assert sw / sh == pytest.approx((x1 - x0) / (y1 - y0), rel=0.05)  # padded, not stretched
    top, bottom, left, right = plan.pad
    if top or bottom or left or right:
        assert not cropped[:top].any() and not cropped[size - bottom :].any()
        assert not cropped[:, :left].any() and not cropped[:, size - right :].any()
    back = uncrop_frame(cropped, plan)
    assert back.shape == (y1 - y0, x1 - x0, 3)
    if plan.scale == 1.0:
        assert np.array_equal(back, frame[y0:y1, x0:x1])
    else:  # shrunk then enlarged: close to the original on average
        assert np.abs(back.astype(int) - frame[y0:y1, x0:x1]).mean() < 80
    assert crop.border_px >= CropSettings().border_min_px


def test_feather_is_one_on_the_mask_and_zero_at_the_crop_edge():
    mask = np.zeros((40, 40), bool)
    mask[12:28, 12:28] = True
    weights = feather_weights(mask, border_px=10, settings=FeatherSettings())
    assert (weights[mask] == 1).all()
    assert weights[0].max() == 0 and weights[:, 0].max() == 0
    assert 0 < weights[20, 30] < 1  # the band outside the mask
    frame = np.zeros((50, 60, 3), np.uint8)
    touched = blend_into(frame, np.full((40, 40, 3), 200, np.uint8), weights, (5, 5, 45, 45))
    assert (frame[17:33, 17:33] == 200).all() and frame[5, 5].sum() == 0
    assert np.array_equal(touched, weights > 0)


def test_merge_keeps_untouched_samples_exactly():
    rng = np.random.default_rng(1)
    yuv = rng.integers(0, 256, (24 * 3 // 2, 32), dtype=np.uint8)
    rgb = yuv_to_rgb(yuv)
    rgb[4:9, 6:11] = 255 - rgb[4:9, 6:11]
    touched = np.zeros((24, 32), bool)
    touched[4:9, 6:11] = True
    merged = merge_touched(yuv, rgb_to_yuv(rgb), touched)
    assert np.array_equal(merged[:24][~touched], yuv[:24][~touched])
    chroma_kept = ~touched.reshape(12, 2, 16, 2).any(axis=(1, 3))
    assert np.array_equal(
        merged[24:].reshape(2, 12, 16)[:, chroma_kept], yuv[24:].reshape(2, 12, 16)[:, chroma_kept]
    )
    assert not np.array_equal(merged[:24][touched], yuv[:24][touched])


@pytest.mark.parametrize(
    ("pts", "expected"),
    [
        ([0, 33, 67, 100], [0, 33, 67, 100]),  # kept as decoded
        ([-100, -67, -33, 0, 33], [0, 33, 67, 100, 133]),  # a negative start moves all to 0
        ([0, 33, 67, 100, 10, 43], [0, 33, 67, 100, 133, 166]),  # a jump back taken out
        ([0, 33, 33, 67], [0, 33, 34, 67]),  # a repeated pts: one tick later
        ([None, 100, None], [5, 100, 133]),  # no pts: `start`, or a period after the last
        ([0, 33, 1000, 1033], [0, 33, 1000, 1033]),  # a gap forward is a pause, kept
        ([None, None, 0, 33], [5, 38, 71, 104]),  # timed frames after untimed ones follow them
    ],
)
def test_frame_clock_makes_presentation_times_increase(pts, expected):
    clock = FrameClock(33, start=5)
    assert [clock.stamp(p) for p in pts] == expected
