"""Restoration clips and model of the demo run, scored on the demo world's test videos.

All figures come from the one session-scoped demo run (``demo_results``); nothing trains here.
Clips are cut from the segmenter's inferred regions, so they can only be as good as its masks;
the clip-mask IoU is reported next to the segmenter's own IoU on the same frames.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.helpers import demo_world_videos

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

CONTAINED_SHARE_FLOOR = 0.95  # issue bar: crops hold >= 95 % of the true pixels on >= 95 % frames
CLIP_MASK_IOU_FLOOR = 0.7  # issue bar
# The demo restorer (fine-tuned from the shipped base) on its validation clips, measured on a
# 2-core AMD EPYC Zen 4: 22.016 dB in the mask against the input's 20.265 and the best blur's
# 20.926. Trained from random weights at the demo's budget it reached blur + 0.41; on the
# identity plateau it stays at the input. Both fail the blur floor.
VAL_GAIN_OVER_INPUT_DB = 1.0
VAL_GAIN_OVER_BLUR_DB = 0.5


def read(results, *parts):
    return json.loads(results.joinpath(*parts).read_text())


def test_every_found_test_track_yields_a_clip(demo_results):
    # a true track the segmenter found (mask IoU >= 0.5) on >= min_seconds of kept frames must
    # yield a clip; the tracks it did not find are listed as its misses, not the clips'
    scores = read(demo_results, "metrics", "restoration_dataset.json")
    assert scores["videos"] == len(demo_world_videos("test")) and scores["found_tracks"] > 0
    assert scores["missed_by_clips"] == [], scores["missed_by_clips"]
    assert scores["tracks_with_clip"] >= scores["found_tracks"]
    missed = len(scores["missed_by_segmenter"])
    assert scores["tracks_with_clip"] + missed == scores["truth_tracks"]


def test_crops_contain_the_true_regions(demo_results):
    scores = read(demo_results, "metrics", "restoration_dataset.json")
    assert scores["frames"] > 0
    assert scores["contained_share"] >= CONTAINED_SHARE_FLOOR, scores


def test_clip_masks_match_the_truth(demo_results):
    scores = read(demo_results, "metrics", "restoration_dataset.json")
    assert scores["clip_mask_iou"] >= CLIP_MASK_IOU_FLOOR, scores
    assert scores["segmenter_mask_iou"] is not None  # reported beside it


def test_index_splits_by_video_and_lists_every_candidate(demo_results):
    root = demo_results / "restoration_dataset"
    index = pd.read_parquet(root / "index.parquet")
    assert index.groupby("video")["split"].nunique().max() == 1  # no video in two splits
    assert set(index.loc[index["kept"], "split"]) == {"train", "val", "test"}
    manifests = {path.stem for path in (root / "videos").glob("*.json")}
    sources = {path.parent.name for path in (demo_results / "frames").glob("*/index.parquet")}
    assert manifests == sources and set(index["video"]) <= manifests  # one per source video
    for row in index[index["kept"]].itertuples():
        assert (root / row.clip_path).is_file() and (root / row.meta_path).is_file()
    assert not index.loc[~index["kept"], "reason"].isna().any()


def test_exported_model_restores_the_validation_mosaics(demo_results):
    card = read(demo_results, "models", "restoration", "model.json")
    final, base = card["final_validation"], card["baselines"]
    assert card["iterations"]["stage1"] > 0 and card["iterations"]["stage2"] > 0
    assert card["hr_skip"] is True  # the demo generator has the full-resolution branch
    gain = final["psnr_mask"] - base["input"]["psnr_mask"]
    assert gain >= VAL_GAIN_OVER_INPUT_DB, (final, base)
    assert final["psnr_mask"] >= base["blur"]["psnr_mask"] + VAL_GAIN_OVER_BLUR_DB, (final, base)
    assert final["ssim_mask"] > base["input"]["ssim_mask"], (final, base)
    assert any("perceptual" in note for note in card["notes"])  # no VGG19 weights in the demo
    # stage 1 started from the shipped base, and its card says which file
    from mosaicflow.provenance import file_hash
    from mosaicflow.restore.base import BASE_DIR

    start = card["stage1"]["config"]["init"]
    assert start["sha256"] == file_hash(BASE_DIR / "generator.pth"), start
