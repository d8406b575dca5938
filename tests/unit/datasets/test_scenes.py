"""Scenes from region tracks: gaps, scene cuts, lengths, stride, the per-video cap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.datasets.clips.scenes import (
    RegionTableError,
    check_tables,
    frame_counts,
    plan_clips,
)

from .conftest import make_cfg


def index_table(n: int, cuts: tuple[int, ...] = (), dropped: tuple[int, ...] = ()) -> pd.DataFrame:
    scene = np.zeros(n, np.int32)
    for c in cuts:
        scene[c:] += 1
    kept = np.ones(n, bool)
    kept[list(dropped)] = False
    return pd.DataFrame(
        {
            "frame": np.arange(n),
            "pts": np.arange(n),
            "time": np.arange(n) / 10,
            "kept": kept,
            "scene": scene,
        }
    )


def region_table(tracks: dict[int, list[int]]) -> pd.DataFrame:
    rows = [
        {
            "frame": f,
            "instance": 0,
            "track_id": t,
            "x0": 1.0,
            "y0": 1.0,
            "x1": 5.0,
            "y1": 5.0,
            "area": 16,
            "rle": "x",
        }
        for t, frames in tracks.items()
        for f in frames
    ]
    return pd.DataFrame(
        rows, columns=["frame", "instance", "track_id", "x0", "y0", "x1", "y1", "area", "rle"]
    )


CFG = dict(min_seconds=0.5, max_seconds=1.0, stride_seconds=0.5, max_clips_per_video=None)


def test_frame_counts():
    assert frame_counts(make_cfg(**CFG), 10.0) == (5, 10, 5)
    assert frame_counts(make_cfg(**CFG), 29.97) == (15, 29, 15)


def test_long_track_cut_with_stride():
    plans = plan_clips(index_table(30), region_table({1: list(range(30))}), make_cfg(**CFG), 10)
    assert [(p.frames[0], len(p.frames)) for p in plans] == [
        (0, 10),
        (5, 10),
        (10, 10),
        (15, 10),
        (20, 10),
    ]
    assert [p.clip for p in plans] == list(range(5))
    assert all(p.reason == "" and all(p.detected) for p in plans)


def test_gap_allowed_and_gap_too_long():
    frames = [f for f in range(20) if f not in (5, 6)]
    plans = plan_clips(
        index_table(20), region_table({1: frames}), make_cfg(**CFG, max_gap_frames=2), 10
    )
    assert plans[0].frames[:8] == tuple(range(8)) and not plans[0].detected[5]
    plans = plan_clips(
        index_table(20), region_table({1: frames}), make_cfg(**CFG, max_gap_frames=1), 10
    )
    assert [p.frames[0] for p in plans] == [0, 7, 12]
    assert all(5 not in p.frames for p in plans)


def test_scene_cut_ends_a_clip_and_short_runs_are_skipped():
    plans = plan_clips(
        index_table(20, cuts=(8, 11)), region_table({1: list(range(20))}), make_cfg(**CFG), 10
    )
    assert [(p.frames[0], len(p.frames), p.scene, p.reason) for p in plans] == [
        (0, 8, 0, ""),
        (8, 3, 1, "too_short"),
        (11, 9, 2, ""),
    ]


def test_dropped_frames_are_not_in_clips():
    plans = plan_clips(
        index_table(20, dropped=(3, 4)), region_table({1: list(range(20))}), make_cfg(**CFG), 10
    )
    assert all(f not in p.frames for p in plans for f in (3, 4))
    assert plans[0].frames[:4] == (0, 1, 2, 5)


def test_cap_spreads_clips_and_lists_the_rest():
    plans = plan_clips(
        index_table(60),
        region_table({1: list(range(60)), 2: list(range(60))}),
        make_cfg(**{**CFG, "max_clips_per_video": 3}),
        10,
    )
    cut = [p for p in plans if not p.reason]
    assert len(cut) == 3 and {p.reason for p in plans} == {"", "max_clips"}
    assert cut[0].clip == 0 and cut[-1].clip == plans[-1].clip


def test_no_regions_no_clips():
    assert plan_clips(index_table(20), region_table({}), make_cfg(**CFG), 10) == []


@settings(max_examples=25, deadline=None)
@given(
    present=st.lists(st.booleans(), min_size=1, max_size=60),
    cuts=st.lists(st.integers(1, 59), max_size=3),
    gap=st.integers(0, 3),
)
def test_clips_respect_lengths_scenes_and_gaps(present, cuts, gap):
    n = len(present)
    cfg = make_cfg(**CFG, max_gap_frames=gap)
    index = index_table(n, cuts=tuple(c for c in cuts if c < n))
    plans = plan_clips(index, region_table({7: [f for f in range(n) if present[f]]}), cfg, 10)
    scene = index["scene"].to_numpy()
    for p in plans:
        assert p.track == 7 and len(p.frames) == len(p.detected)
        assert len({scene[f] for f in p.frames}) == 1
        hits = np.flatnonzero(np.array(p.detected))
        assert len(hits) and np.diff(hits).max(initial=1) <= gap + 1
        assert all(present[f] == d for f, d in zip(p.frames, p.detected, strict=True))
        if p.reason == "":
            assert 5 <= len(p.frames) <= 10
        else:
            assert p.reason == "too_short" and len(p.frames) < 5
    assert sum(present) == 0 or plans


def test_check_tables_names_the_file():
    index = index_table(10)
    with pytest.raises(RegionTableError, match=r"regions\.parquet: frame 12"):
        check_tables(
            index,
            region_table({1: [3, 12]}),
            (8, 8),
            index_path="index.parquet",
            regions_path="regions.parquet",
        )
    with pytest.raises(RegionTableError, match="outside the 4x4 frame"):
        check_tables(
            index,
            region_table({1: [3]}),
            (4, 4),
            index_path="index.parquet",
            regions_path="regions.parquet",
        )
    with pytest.raises(RegionTableError, match="missing columns"):
        check_tables(
            index,
            region_table({1: [3]}).drop(columns="rle"),
            (8, 8),
            index_path="i",
            regions_path="regions.parquet",
        )
    check_tables(index, region_table({1: [3]}), (8, 8), index_path="i", regions_path="r")


def _rows(spec):
    """Region rows from (frame, track, x0) triples, 10x10 boxes at y 0."""
    return pd.DataFrame(
        [
            {"frame": f, "instance": 0, "track_id": t, "x0": float(x), "y0": 0.0,
             "x1": float(x + 10), "y1": 10.0}
            for f, t, x in spec
        ]
    )  # fmt: skip


def test_link_tracks_joins_an_id_switch_and_keeps_the_tracker_id():
    from mosaicflow.datasets.clips.scenes import link_tracks

    index = pd.DataFrame({"frame": range(12), "kept": True, "scene": 0})
    # track 4 continues track 1 after a 1-frame gap (same place); track 7 is elsewhere
    rows = _rows([(f, 1, 20 + f) for f in range(5)] + [(f, 4, 21 + f) for f in range(6, 12)]
                 + [(f, 7, 80) for f in range(6, 12)])  # fmt: skip
    linked = link_tracks(index, rows, max_gap=2, min_iou=0.2)
    assert sorted(linked["track_id"].unique()) == [1, 7]
    assert set(linked.loc[linked["track_id"] == 1, "source_track"]) == {1, 4}
    # too long a gap, another scene, or linking off: the tracker's ids stay
    assert sorted(link_tracks(index, rows, max_gap=0, min_iou=0.2)["track_id"].unique()) == [
        1,
        4,
        7,
    ]
    cut = index.assign(scene=(index["frame"] >= 6).astype(int))
    assert sorted(link_tracks(cut, rows, max_gap=2, min_iou=0.2)["track_id"].unique()) == [1, 4, 7]
    assert sorted(link_tracks(index, rows, max_gap=2, min_iou=None)["track_id"].unique()) == [
        1,
        4,
        7,
    ]
