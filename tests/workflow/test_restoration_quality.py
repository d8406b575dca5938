"""Restoration clips and model of the demo run, scored on the demo world's test videos.

All figures come from the one session-scoped demo run (``demo_results``); nothing trains here.
Clips are cut from the segmenter's inferred regions, so they can only be as good as its masks;
the clip-mask IoU is reported next to the segmenter's own IoU on the same frames.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from tests.helpers import demo_world_videos

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

CONTAINED_SHARE_FLOOR = 0.95  # issue bar: crops hold >= 95 % of the true pixels on >= 95 % frames
CLIP_MASK_IOU_FLOOR = 0.7  # issue bar


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


def test_exported_model_card_records_its_training(demo_results):
    # The card's validation figures come from 9-11 clips, one of which moves the gain over the
    # input by 0.27-0.68 dB: too few to bound by issue 58's rule, so no floor is set on them
    # here. The restorer's bars (over the input >= 1 dB, over the best blur >= 0.5 dB) are held
    # on the test videos' 170 frames (test_evaluation_quality).
    card = read(demo_results, "models", "restoration", "model.json")
    final, base = card["final_validation"], card["baselines"]
    assert card["iterations"]["stage1"] > 0 and card["iterations"]["stage2"] > 0
    assert card["hr_skip"] is True  # the demo generator has the full-resolution branch
    for figures in (final, base["input"], base["blur"]):
        assert math.isfinite(figures["psnr_mask"]) and 0 < figures["ssim_mask"] <= 1, card
    assert base["blur"]["sigma"] > 0, base
    assert any("perceptual" in note for note in card["notes"])  # no VGG19 weights in the demo
    # stage 1 started from the shipped base, and its card says which file
    from mosaicflow.provenance import file_hash
    from mosaicflow.restore.base import BASE_DIR

    start = card["stage1"]["config"]["init"]
    assert start["sha256"] == file_hash(BASE_DIR / "generator.pth"), start
