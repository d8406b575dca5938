"""Contact sheet per split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.index import build_index
from mosaicflow.datasets.clips.sheet import LABEL_H, TILE, contact_sheet

from .conftest import Source, make_cfg, mosaic_cfg


def test_sheet_rows_outlines_and_determinism(source: Source, tmp_path: Path):
    cfg = make_cfg(
        min_seconds=0.5, max_seconds=1.2, stride_seconds=0.4, out_size=32, max_clips_per_video=None
    )
    build_video_clips(
        source.video,
        source.index,
        source.regions,
        tmp_path,
        cfg,
        mosaic_cfg=mosaic_cfg(),
        video_id="vid-0123abcd",
        seed=0,
        code="c",
    )
    index = build_index(
        [tmp_path / "videos" / "vid-0123abcd.json"], tmp_path / "index.parquet", cfg.split, seed=0
    )
    out = contact_sheet(index, tmp_path, "train", tmp_path / "sheet.png", max_clips=3)
    image = cv2.imread(str(out))[..., ::-1]
    assert image.shape[0] == 3 * (LABEL_H + TILE + 4)
    green = (image[..., 1] == 255) & (image[..., 0] == 0) & (image[..., 2] == 0)
    assert green[LABEL_H : LABEL_H + TILE].sum() > 20  # the mask outline on the first row
    first = hashlib.sha256(out.read_bytes()).hexdigest()
    contact_sheet(index, tmp_path, "train", tmp_path / "sheet.png", max_clips=3)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == first
    empty = contact_sheet(index, tmp_path, "val", tmp_path / "val.png")
    assert cv2.imread(str(empty)).shape[0] < TILE and np.any(cv2.imread(str(empty)) < 255)
