"""The detector and segmenter figures carry their bootstrap intervals: COCO AP50 over the test
frames, frame recall and false-positive rate over the frames with and without a mosaic."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.yolo.mosaics import clean_frame_rate, frame_rate_intervals, frame_rates
from mosaicflow.yolo.scoring import coco_eval
from tests.unit.yolo.fakes import disc
from tests.unit.yolo.test_scoring import gt_for


def test_coco_eval_gives_the_ap50_interval_and_one_item_sensitivity():
    rng = np.random.default_rng(0)
    masks = [[disc(40, 40, int(c), int(c), 6)] for c in rng.integers(8, 30, 12)]
    images, anns = gt_for(masks)
    dets = [
        {"image_id": a["image_id"], "category_id": 1, "score": float(rng.uniform(0.2, 1)),
         "bbox": a["bbox"]}
        for a in anns[:9]  # three frames missed
    ] + [{"image_id": i, "category_id": 1, "score": 0.5, "bbox": [0.0, 0.0, 5.0, 5.0]}
         for i in (2, 5)]  # fmt: skip
    scores = coco_eval(images, anns, dets, ["region", "other"], "bbox")
    low, high = scores["map50_ci95"]
    assert 0.5 < scores["map50"] < 0.8 and low < scores["map50"] < high
    assert low < high <= 1.0
    # a class without ground truth has no interval; the one class's is the mean's
    assert scores["per_class_map50_ci95"] == {"region": [low, high], "other": None}
    # one more frame missed: a twelfth of the recall, about as much AP
    assert 0.05 < scores["map50_one_item"] < 0.2
    empty = coco_eval(images, anns, [], ["region"], "bbox")
    assert empty["map50_ci95"] == [0.0, 0.0] and empty["map50_one_item"] == 0.0


def test_frame_figures_have_intervals_over_their_own_frames():
    truth = np.array([True] * 60 + [False] * 40)
    found = truth.copy()
    found[:6] = False  # recall 0.9
    found[60:62] = True  # false-positive rate 0.05
    rates = frame_rates(found, truth)
    intervals = frame_rate_intervals(found, truth)
    low, high = intervals["frame_recall_ci95"]
    assert low < rates["frame_recall"] == 0.9 < high
    low, high = intervals["frame_fp_rate_ci95"]
    assert low <= rates["frame_fp_rate"] == 0.05 < high
    assert frame_rate_intervals([True], [True])["frame_fp_rate_ci95"] is None
    with pytest.raises(ValueError, match="truth frames"):
        frame_rate_intervals([True], [True, False])
    clean = clean_frame_rate([0.1] * 38 + [0.9, 0.95], 0.5)
    assert clean["clean_frame_fp_rate"] == 0.05 and clean["clean_frames"] == 40
    assert clean["clean_frame_fp_rate_ci95"][0] <= 0.05 < clean["clean_frame_fp_rate_ci95"][1]
