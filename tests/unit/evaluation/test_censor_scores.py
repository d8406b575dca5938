"""Precision and recall of the censor filter's drops against a world's truth."""

from __future__ import annotations

import pytest

from mosaicflow.evaluation.censor import (
    DropItem,
    censored_frames,
    clip_items,
    drop_scores,
    sample_items,
)

TRUTH = {
    "scenes": [
        {"start": 0, "end": 10, "degraded": None},
        {"start": 10, "end": 20, "degraded": {"kind": "mosaic", "block": 8}},
        {"start": 20, "end": 30, "degraded": {"kind": "codec", "crf": 50}},
    ]
}


def test_censored_frames_are_the_mosaic_scenes():
    assert censored_frames(TRUTH) == set(range(10, 20))


def test_sample_items_count_frames_with_regions_and_censor_drops_only():
    manifest = {
        "samples": [
            {"frame": 2, "regions": 1},
            {"frame": 12, "regions": 2},
            {"frame": 4, "regions": 0},
        ],
        "dropped": [
            {"frame": 14, "reason": "censored: blockiness 0.700 > 0.45"},
            {"frame": 25, "reason": "censored: blockiness 0.500 > 0.45"},
            {"frame": 6, "reason": "near-duplicate of frame 2 (phash distance 3)"},
        ],
    }
    items = sample_items(manifest, censored_frames(TRUTH))
    assert sorted((i.dropped, i.censored) for i in items) == [
        (False, False), (False, True), (True, False), (True, True),
    ]  # fmt: skip


def test_clip_items_take_the_majority_of_frames_and_skip_other_filters():
    clips = [
        {"status": "kept", "reason": "", "frame_start": 0, "frame_end": 9},
        {"status": "filtered", "reason": "censored: detector on 2 of 3 analysed frames",
         "frame_start": 8, "frame_end": 18},
        {"status": "kept", "reason": "", "frame_start": 15, "frame_end": 22},
        {"status": "filtered", "reason": "watermark 0.5 > 0.2", "frame_start": 10, "frame_end": 19},
        {"status": "skipped", "reason": "too_short", "frame_start": 10, "frame_end": 11},
    ]  # fmt: skip
    items = clip_items({"clips": clips}, censored_frames(TRUTH))
    assert [(i.dropped, i.censored) for i in items] == [(False, False), (True, True), (False, True)]


def test_drop_scores_are_precision_and_recall_with_intervals():
    items = [DropItem(True, True)] * 8 + [DropItem(True, False)] * 2 + [DropItem(False, True)] * 2
    items += [DropItem(False, False)] * 5
    scores = drop_scores(items, resamples=200).to_dict()
    assert scores["precision"] == 0.8 and scores["recall"] == 0.8
    assert scores["items"] == 17 and scores["censored"] == 10 and scores["dropped"] == 10
    low, high = scores["precision_ci95"]
    assert low < 0.8 < high and scores["precision_one_item"] == pytest.approx(0.1)
    none = drop_scores([DropItem(False, False)]).to_dict()
    assert none["precision"] is None and none["recall"] is None
