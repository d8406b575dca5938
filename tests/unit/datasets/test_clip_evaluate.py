"""Scoring clips against ground truth: track coverage, containment, mask IoU."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.evaluate import (
    TruthVideo,
    evaluate_clips,
    longest_run,
    truth_tracks,
)
from mosaicflow.datasets.clips.index import index_frame
from mosaicflow.formats.truth import TRUTH_VERSION, truth_mask_writer, write_truth_json

from .conftest import Source, make_cfg, make_source, mosaic_cfg


def test_longest_run_bridges_gaps():
    flags = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool)
    assert longest_run(flags) == 3
    assert longest_run(flags, max_gap=1) == 4
    assert longest_run(flags, max_gap=2) == 9
    assert longest_run(np.zeros(3, bool)) == 0


def test_truth_tracks_counts_the_longest_run():
    ids = np.zeros((10, 4, 4), np.uint8)
    ids[0:6, 0, 0] = 1  # 6 frames in a row
    ids[0:3, 1, 1] = 2  # 3 + 3 frames with a gap
    ids[5:8, 1, 1] = 2
    assert truth_tracks(ids, 4) == {1: 6}
    assert truth_tracks(ids, 3) == {1: 6, 2: 3}


def _truth(src: Source, folder: Path, n: int, fps: int, grow: int = 0) -> tuple[Path, Path]:
    h, w = src.frames.shape[1:3]
    mkv, js = folder / "truth.mkv", folder / "truth.json"
    with truth_mask_writer(mkv, fps, w, h) as write:
        for i in range(n):
            ids = np.zeros((h, w), np.uint8)
            for track, per_frame in src.masks.items():
                mask = per_frame[i].astype(np.uint8)
                if grow:
                    mask = cv2.dilate(mask, np.ones((2 * grow + 1,) * 2, np.uint8))
                ids[mask > 0] = track
            write(ids)
    per_frame = [{"frame": i, "watermarks": []} for i in range(n)]
    write_truth_json(js, {"version": TRUTH_VERSION, "fps": fps, "width": w, "height": h,
                          "frames": n, "classes": [], "per_frame": per_frame})  # fmt: skip
    return mkv, js


def _clips(src: Source, out: Path, **overrides) -> pd.DataFrame:
    settings = dict(min_seconds=0.5, max_seconds=1.2, stride_seconds=0.8, out_size=32,
                    max_clips_per_video=None)  # fmt: skip
    cfg = make_cfg(**{**settings, **overrides})
    records = build_video_clips(src.video, src.index, src.regions, out, cfg,
                                mosaic_cfg=mosaic_cfg(), video_id="vid-0123abcd", seed=3,
                                code="abc")  # fmt: skip
    return index_frame(records, {"vid-0123abcd": "test"})


def test_clips_of_exact_regions_score_perfectly(tmp_path: Path):
    src = make_source(tmp_path / "src", tracks=2)
    mkv, js = _truth(src, tmp_path, 24, 10)
    index = _clips(src, tmp_path / "out")
    video = TruthVideo("vid-0123abcd", mkv, js, src.regions, src.index)
    result = evaluate_clips(index, tmp_path / "out", [video], min_seconds=0.5, max_gap=2)
    assert result["truth_tracks"] == 2 and result["tracks_with_clip"] == 2
    assert result["found_tracks"] == 2
    assert result["missed_by_clips"] == result["missed_by_segmenter"] == []
    assert result["contained_share"] == 1.0
    # masks are exact and the crop is never scaled here: the same pixels
    assert result["segmenter_mask_iou"] == pytest.approx(1.0)
    assert result["clip_mask_iou"] == pytest.approx(1.0)
    assert result["frames"] == sum(index["frames"])


def test_a_crop_that_cuts_the_region_and_a_missed_track_are_reported(tmp_path: Path):
    src = make_source(tmp_path / "src", tracks=2)
    mkv, js = _truth(src, tmp_path, 24, 10, grow=4)  # the segmenter missed a 4 px rim
    index = _clips(src, tmp_path / "out", border=0.0, border_min_px=0, out_size=8,
                   resize="always")  # fmt: skip
    index = index[index["track"] == 1]  # track 2 yields no clip
    video = TruthVideo("vid-0123abcd", mkv, js, src.regions, src.index)
    result = evaluate_clips(index, tmp_path / "out", [video], min_seconds=0.5, max_gap=2)
    assert result["tracks_with_clip"] == 1
    # the segmenter found track 2 (IoU 0.51 >= 0.5): its missing clip is the clip stage's fault
    missed = {"video": "vid-0123abcd", "instance": 2, "kept_frames": 24, "found_frames": 24}
    assert result["missed_by_clips"] == [missed] and result["missed_by_segmenter"] == []
    # no border: the crop is the segmenter's box, so the rim it missed is cut off
    assert result["contained_share"] == 0.0 and result["containment"] < 0.95
    seg = (20 * 20) / (28 * 28)  # the square against the square grown by 4 px per side
    assert result["segmenter_mask_iou"] == pytest.approx(seg, abs=0.02)
    # inside the crop the masks agree: only the containment sees what the crop cut off
    assert result["clip_mask_iou"] == pytest.approx(1.0)


def test_a_track_the_segmenter_missed_is_not_the_clip_stages_fault(tmp_path: Path):
    src = make_source(tmp_path / "src", tracks=2)
    mkv, js = _truth(src, tmp_path, 24, 10, grow=8)  # region masks cover < half of the truth
    index = _clips(src, tmp_path / "out")
    index = index[index["track"] == 1]
    video = TruthVideo("vid-0123abcd", mkv, js, src.regions, src.index)
    result = evaluate_clips(index, tmp_path / "out", [video], min_seconds=0.5, max_gap=2)
    assert result["found_tracks"] == 0 and result["missed_by_clips"] == []
    assert [m["instance"] for m in result["missed_by_segmenter"]] == [2]
