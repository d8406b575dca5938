"""Which frames `mosaicflow review frames` flags and picks, on hand-made detections."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.curate.hard_frames import (
    Detection,
    Thresholds,
    box_iou,
    flag_frames,
    link_tracks,
    pick_frames,
    union_iou,
)

T = Thresholds(found=0.25, confident=0.6, link_iou=0.3, max_gap=3, disagree_iou=0.5)


def det(x: float, score: float, y: float = 10.0, size: float = 20.0) -> Detection:
    return Detection((x, y, x + size, y + size), score, "nsfw")


def steady(count: int, score: float = 0.8) -> list[list[Detection]]:
    """A region drifting right by one pixel a frame, found on every frame."""
    return [[det(10 + i, score)] for i in range(count)]


def by_index(flagged):
    return {f.index: f for f in flagged}


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_tracks_link_across_a_gap_and_split_far_apart_regions():
    frames = steady(10)
    frames[4] = []  # a one-frame gap: same track
    frames[6].append(det(200, 0.9))  # another region, far away: its own track
    tracks = link_tracks(frames, T)
    assert [sorted(t) for t in tracks] == [[0, 1, 2, 3, 5, 6, 7, 8, 9], [6]]


def test_a_gap_longer_than_max_gap_starts_a_new_track():
    frames = steady(12)
    for i in range(3, 8):  # five frames missing > max_gap 3
        frames[i] = []
    assert [sorted(t) for t in link_tracks(frames, T)] == [[0, 1, 2], [8, 9, 10, 11]]


def test_a_steady_confident_track_flags_nothing():
    assert flag_frames(steady(10), T) == []


def test_a_region_on_one_frame_alone_is_flicker():
    frames: list[list[Detection]] = [[] for _ in range(9)]
    frames[4] = [det(50, 0.4)]
    flagged = by_index(flag_frames(frames, T))
    assert list(flagged) == [4]
    assert flagged[4].reasons == ("flicker",)
    assert "alone" in flagged[4].notes[0]


def test_a_track_missing_one_frame_is_flicker_and_longer_holes_are_partial():
    frames = steady(12)
    frames[3] = []
    frames[7] = frames[8] = []
    flagged = by_index(flag_frames(frames, T))
    assert flagged[3].reasons == ("flicker",)
    assert flagged[7].reasons == flagged[8].reasons == ("partial_track",)
    assert set(flagged) == {3, 7, 8}
    assert flagged[3].priority > flagged[7].priority


def test_weak_frames_of_a_confident_track_are_partial():
    frames = steady(8)
    frames[5] = [det(15, 0.3)]  # found but not confident, inside a track seen at 0.8
    flagged = by_index(flag_frames(frames, T))
    assert list(flagged) == [5]
    assert flagged[5].reasons == ("partial_track",)
    assert "0.80" in flagged[5].notes[0] and "0.30" in flagged[5].notes[0]


def test_a_track_never_confident_is_not_partial():
    frames = steady(8, score=0.4)
    frames[5] = [det(15, 0.3)]
    assert flag_frames(frames, T) == []


def test_low_confidence_regions_weigh_by_their_score():
    frames = steady(10)
    frames[2].append(det(300, 0.2))
    frames[6].append(det(300, 0.05))
    frames[6].append(det(400, 0.1))
    frames[6].append(det(500, 0.11))
    frames[6].append(det(600, 0.12))
    flagged = by_index(flag_frames(frames, T))
    assert flagged[2].reasons == flagged[6].reasons == ("low_confidence",)
    assert flagged[2].priority == pytest.approx(0.2 / 0.25)
    assert flagged[6].priority == pytest.approx(0.12 / 0.25)
    assert flagged[6].notes == ("regions at 0.12, 0.11, 0.10 and 1 more",)


def test_frames_where_two_models_disagree():
    flagged = by_index(flag_frames(steady(6), T, agreement={1: 0.9, 3: 0.2, 4: 0.5}))
    assert list(flagged) == [3]
    assert flagged[3].reasons == ("disagree",)
    assert "0.20" in flagged[3].notes[0]


def test_reasons_add_up():
    frames = steady(8)
    frames[4] = [det(300, 0.2)]  # the track misses frame 4 and a weak region appears elsewhere
    flagged = by_index(flag_frames(frames, T, agreement={4: 0.0}))
    assert flagged[4].reasons == ("flicker", "disagree", "low_confidence")
    assert flagged[4].priority == pytest.approx(3 + 2 + 0.2 / 0.25)


def test_picks_take_the_highest_priorities_apart():
    frames: list[list[Detection]] = [[] for _ in range(40)]
    for index, score in ((5, 0.2), (6, 0.24), (20, 0.1), (30, 0.15)):
        frames[index] = [det(300, score)]
    flagged = flag_frames(frames, T)
    picks = pick_frames(flagged, count=2, min_spacing=5)
    assert [p.index for p in picks] == [6, 30]  # 5 sits next to 6; 30 outranks 20
    assert [p.index for p in pick_frames(flagged, count=10, min_spacing=0)] == [5, 6, 20, 30]
    assert pick_frames(flagged, count=0, min_spacing=5) == []


def test_thresholds_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match=r"found \(0.7\) <= confident \(0.6\)"):
        Thresholds(found=0.7, confident=0.6)
    with pytest.raises(ValueError, match="max_gap must be at least 1"):
        Thresholds(max_gap=0)
    with pytest.raises(ValueError, match="must be >= 0"):
        pick_frames([], count=-1, min_spacing=0)


def test_union_iou():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert union_iou(a, b) == 1.0
    a[:2] = True
    assert union_iou(a, b) == 0.0
    b[1:3] = True
    assert union_iou(a, b) == pytest.approx(1 / 3)
