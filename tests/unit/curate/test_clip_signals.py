"""Per-clip signals: confidence, stability, the second opinion, the demo truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mosaicflow.curate.clip_jobs import score_video_clips
from mosaicflow.curate.clip_signals import (
    COLUMNS,
    box_jitter,
    clip_signals,
    opinion_frames,
    read_signals,
    shape_change,
    track_table,
    video_signals,
)
from mosaicflow.curate.config import NudeNetConfig
from mosaicflow.datasets.clips.meta import read_manifest

from .conftest import Dataset


def test_box_jitter_is_zero_for_steady_motion_and_grows_with_shaking():
    steady = np.array([[x, 10, x + 20, 30] for x in range(0, 20, 2)], float)
    assert box_jitter(steady) == pytest.approx(0.0)
    shaky = steady.copy()
    shaky[::2, [0, 2]] += 6
    assert box_jitter(shaky) > 0.2
    assert box_jitter(steady[:2]) == 0.0


def _ellipse(size: int, centre: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    import cv2

    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    return mask


def test_shape_change_ignores_motion_and_scale_and_sees_deformation():
    rigid = np.stack([_ellipse(128, (30 + 5 * t, 60), (10 + t, 20 + 2 * t)) for t in range(12)])
    assert shape_change(rigid) < 0.05
    # the same area, stretched from a tall ellipse to a wide one
    breathing = np.stack([_ellipse(128, (64, 64), (8 + 2 * t, 30 - 2 * t)) for t in range(12)])
    assert shape_change(breathing) > 0.3
    assert shape_change(rigid[:1]) == 0.0  # nothing to compare
    assert shape_change(np.zeros((5, 32, 32), np.uint8)) == 0.0  # empty masks


def test_signals_read_the_tracks_rows(dataset: Dataset):
    video = "vid-0123abcd"
    record = read_manifest(dataset.manifest(video))["clips"][0]
    regions = pd.read_parquet(dataset.sources[video].regions)
    found = clip_signals(record, track_table(regions))
    assert found["conf_mean"] == pytest.approx(0.9) and found["conf_min"] == pytest.approx(0.9)
    assert found["detected_share"] == 1.0 and found["id_switches"] == 0.0
    assert found["area_cv"] == pytest.approx(0.0)  # a square of constant size
    assert found["box_jitter"] == pytest.approx(0.0, abs=0.02)  # constant speed
    assert np.isnan(found["shape_change"]) and np.isnan(found["motion_residual"])  # no masks
    lower = regions.copy()
    lower.loc[lower["frame"] == record["frame_start"], "score"] = 0.3
    again = clip_signals(record, track_table(lower))
    assert again["conf_min"] == pytest.approx(0.3) and again["conf_mean"] < 0.9


def test_video_signals_score_kept_clips_with_opinion_and_truth(dataset: Dataset):
    video = "vid-0123abcd"
    records = read_manifest(dataset.manifest(video))["clips"]
    regions = pd.read_parquet(dataset.sources[video].regions)
    kept = [r for r in records if r["status"] == "kept"]
    picked = {n for r in kept for n in opinion_frames(r)}
    assert all(len(opinion_frames(r)) == 4 for r in kept)  # four evenly spaced frames per clip
    boxes = {n: np.array([[0, 0, 200, 200]], float) for n in picked}
    table = video_signals(records, regions, truth=lambda r: r["track"] == 2, opinion_boxes=boxes)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == len(kept)
    # a detection box around the whole frame lies mostly outside the region
    assert (table["nudenet"] < 0.1).all()
    tracks = {r["clip"]: r["track"] for r in records}
    assert (table["truth_false"] == table["clip"].map(tracks).eq(2).astype(float)).all()


def test_score_video_clips_writes_the_table_and_reads_the_source_frames(
    dataset: Dataset, tmp_path: Path
):
    video = "vid-0123abcd"
    src = dataset.sources[video]
    calls = []

    def opinion(frames):  # a detection on the first track's square in every frame
        calls.append(frames)
        return [np.array([[6, 8, 26, 28]], float)] * len(frames)

    out = tmp_path / "signals.parquet"
    table = score_video_clips(
        dataset.manifest(video), src.regions, out, video=src.video,
        nudenet=NudeNetConfig(enabled=True), opinion=opinion,
    )  # fmt: skip
    assert out.is_file() and len(read_signals([out])) == len(table) == 6
    first = read_manifest(dataset.manifest(video))["clips"][0]
    sha = table.set_index("clip").loc[first["clip"], "clip_sha256"]
    assert sha == hashlib.sha256((dataset.root / first["files"]["clip"]).read_bytes()).hexdigest()
    assert calls[0].shape == (1, *src.frames.shape[1:])  # full-resolution frames, one at a time
    records = [r for r in read_manifest(dataset.manifest(video))["clips"] if r["status"] == "kept"]
    assert len(calls) == len({n for r in records for n in opinion_frames(r)})
    assert table["nudenet"].notna().all() and table["truth_false"].isna().all()
    assert (table["shape_change"] < 0.1).all()  # the squares only move
    assert table["motion_residual"].notna().all() and (table["motion_residual"] < 0.8).all()
    with pytest.raises(ValueError, match="source video"):
        score_video_clips(
            dataset.manifest(video), src.regions, tmp_path / "x.parquet",
            nudenet=NudeNetConfig(enabled=True), opinion=opinion,
        )  # fmt: skip


def test_read_signals_names_a_wrong_table(tmp_path: Path):
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"clip": ["a"]}).to_parquet(bad)
    with pytest.raises(ValueError, match=r"bad\.parquet"):
        read_signals([bad])
    assert read_signals([]).empty
