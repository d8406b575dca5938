"""Analysers and filters: each measure responds to what it measures; filtered clips are listed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from mosaicflow.datasets.clips.analysers import (
    blockiness,
    filter_reason,
    pixel_measures,
    quality,
    region_measures,
    sharpness,
    watermark_share,
    watermarks_from_truth,
)
from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.meta import read_manifest

from .conftest import Source, make_cfg, mosaic_cfg

GRAY = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY)[100:292, 150:342]


def pixelate(gray: np.ndarray, block: int) -> np.ndarray:
    h, w = gray.shape
    small = cv2.resize(gray, (w // block, h // block), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def test_blockiness_finds_mosaics_and_their_block():
    natural, _ = blockiness(GRAY)
    assert natural < 0.1
    for block in (4, 8, 12):
        score, found = blockiness(pixelate(GRAY, block)[3:, 5:])
        assert score > 0.9 and found == block
    assert blockiness(np.full((40, 40), 9, np.uint8)) == (0.0, 0)


def test_sharpness_and_quality_drop_with_blur():
    blurred = cv2.GaussianBlur(GRAY, (0, 0), 3)
    assert sharpness(blurred) < sharpness(GRAY) / 10
    assert 0 <= quality(blurred) < quality(GRAY) <= 1
    measures = pixel_measures([GRAY, GRAY, np.zeros((2, 2), np.uint8)])
    assert measures["sharpness"] == pytest.approx(sharpness(GRAY), rel=1e-4)
    assert pixel_measures([]) == {
        "sharpness": None,
        "quality": None,
        "blockiness": None,
        "block": None,
    }


def test_region_and_watermark_measures():
    boxes = np.array([[0, 0, 10, 20], [0, 0, 12, 20], [0, 0, 14, 20]], float)
    region = region_measures(boxes, np.array([150.0, 200.0, 250.0]), (100, 200))
    assert region["region_px"] == 12 and region["region_fraction"] == pytest.approx(0.012)
    crops = np.array([[0, 0, 50, 50]] * 4)
    marks = {1: [[40, 40, 60, 60]], 2: [[20, 20, 60, 60]], 3: [[100, 100, 120, 120]]}
    assert watermark_share(crops, [0, 1, 2, 3], marks, 0.1) == 0.5
    assert watermark_share(crops, [0, 1, 2, 3], lambda f: marks.get(f), 0.3) == 0.25
    assert watermark_share(crops, [0, 1], None, 0.1) is None


def test_filter_reason_off_by_default_and_names_the_first():
    cfg = make_cfg()
    results = {
        "watermark": 0.5,
        "region_px": 3,
        "region_fraction": 0.9,
        "sharpness": 1.0,
        "quality": 0.1,
        "blockiness": 0.9,
    }
    assert filter_reason(results, cfg.filters) == ""
    cfg = make_cfg(filters={"min_region_px": 10, "max_blockiness": 0.5})
    assert filter_reason(results, cfg.filters) == "region_px 3 < 10"
    assert filter_reason({**results, "region_px": None}, cfg.filters) == "blockiness 0.9 > 0.5"


def test_filtered_clips_stay_listed_without_files(source: Source, tmp_path: Path):
    cfg = make_cfg(
        min_seconds=0.5,
        max_seconds=1.2,
        stride_seconds=0.8,
        out_size=32,
        max_clips_per_video=None,
        filters={"max_watermark": 0.4},
    )
    marks = {f: [[0, 0, 96, 72]] for f in range(16, 24)}  # a watermark over the last clip only
    records = build_video_clips(
        source.video,
        source.index,
        source.regions,
        tmp_path,
        cfg,
        mosaic_cfg=mosaic_cfg(),
        video_id="vid-0123abcd",
        seed=1,
        code="x",
        watermarks=marks,
    )
    assert [r["status"] for r in records] == ["kept", "kept", "filtered"]
    assert records[2]["reason"] == "watermark 1 > 0.4"
    assert records[1]["analysers"]["watermark"] == pytest.approx(4 / 12, abs=1e-5)
    assert not (tmp_path / "meta" / f"{records[2]['clip']}.json").exists()
    assert not list((tmp_path / "clips").glob(f"{records[2]['clip']}*"))
    listed = read_manifest(tmp_path / "videos" / "vid-0123abcd.json")["clips"]
    assert listed[2]["status"] == "filtered" and listed[2]["analysers"]["sharpness"] > 0


def test_watermarks_from_truth_entries():
    per_frame = [
        {"frame": 0, "watermarks": []},
        {"frame": 1, "watermarks": [{"class": "logo", "class_id": 1, "box": [1, 2, 3, 4]}]},
        {"frame": 2, "watermarks": [[5, 6, 7, 8], [0, 0, 1, 1]]},
    ]
    marks = watermarks_from_truth(per_frame)
    assert marks[0].shape == (0, 4) and marks[1].tolist() == [[1, 2, 3, 4]]
    assert marks[2].shape == (2, 4)
    assert watermark_share(np.array([[0, 0, 4, 4]] * 3), [0, 1, 2], marks, 0.5) == pytest.approx(
        2 / 3, abs=1e-5
    )
