"""COCO evaluation against in-memory ground truth: perfect, missing and wrong detections."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.yolo.scoring import RECALL_GRID, _rle, batched, coco_eval, truth_items
from tests.unit.yolo.fakes import disc


def gt_for(masks_per_image):
    from pycocotools import mask as mask_utils

    images, anns = [], []
    for i, masks in enumerate(masks_per_image, start=1):
        images.append({"id": i, "height": 40, "width": 40})
        for mask in masks:
            rle = _rle(mask)
            anns.append({"image_id": i, "category_id": 1, "segmentation": rle,
                         "area": float(mask_utils.area(rle)),
                         "bbox": [float(v) for v in mask_utils.toBbox(rle)]})  # fmt: skip
    return images, anns


def test_perfect_masks_score_one_and_misses_lower_it():
    masks = [[disc(40, 40, 10, 10, 6)], [disc(40, 40, 25, 25, 8)], []]
    images, anns = gt_for(masks)
    perfect = [{"image_id": a["image_id"], "category_id": 1, "score": 0.9,
                "segmentation": a["segmentation"]} for a in anns]  # fmt: skip
    assert coco_eval(images, anns, perfect, ["region"], "segm")["map50"] == pytest.approx(1.0)
    half = perfect[:1]
    assert coco_eval(images, anns, half, ["region"], "segm")["map50"] == pytest.approx(
        0.5, abs=0.02
    )
    assert coco_eval(images, anns, [], ["region"], "segm")["map50"] == 0.0


def test_pr_curve_is_the_precision_envelope_on_coco_recall_points():
    masks = [[disc(40, 40, 10, 10, 6)], [disc(40, 40, 25, 25, 8)], []]
    images, anns = gt_for(masks)
    perfect = [{"image_id": a["image_id"], "category_id": 1, "score": 0.9,
                "segmentation": a["segmentation"]} for a in anns]  # fmt: skip
    curve = coco_eval(images, anns, perfect, ["region"], "segm")["pr50"]["region"]
    assert len(curve) == len(RECALL_GRID) == 101 and RECALL_GRID[50] == 0.5
    assert curve == [1.0] * 101
    # one of two found: precision 1 up to recall 0.5, 0 beyond; the mean is the AP50
    half = coco_eval(images, anns, perfect[:1], ["region"], "segm")
    assert half["pr50"]["region"] == [1.0] * 51 + [0.0] * 50
    assert half["map50"] == pytest.approx(sum(half["pr50"]["region"]) / 101, abs=1e-4)
    # nothing detected: a flat zero curve; a class without ground truth: no curve
    empty = coco_eval(images, anns, [], ["region", "other"], "segm")
    assert empty["pr50"] == {"region": [0.0] * 101, "other": None}
    two = coco_eval(images, anns, perfect, ["region", "other"], "segm")
    assert two["pr50"]["other"] is None and two["pr50"]["region"] == [1.0] * 101


def test_false_positive_on_an_empty_frame_ranks_below_true_hits():
    images, anns = gt_for([[disc(40, 40, 10, 10, 6)], []])
    box = anns[0]["bbox"]
    dets = [
        {"image_id": 1, "category_id": 1, "score": 0.5, "bbox": box},
        {"image_id": 2, "category_id": 1, "score": 0.9, "bbox": [0, 0, 10, 10]},
    ]
    scores = coco_eval(images, anns, dets, ["region"], "bbox")
    assert 0.4 < scores["map50"] < 0.6
    assert scores["per_class_map50"]["region"] == scores["map50"]


def test_helpers():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    items = truth_items(["a.mp4", "a.mkv", "a.json"])
    assert items[0].truth_json.name == "a.json"
    with pytest.raises(ValueError, match="triples"):
        truth_items(["a.mp4"])
    assert np.asarray(_rle(disc(8, 8, 4, 4, 2))["size"]).tolist() == [8, 8]


def test_class_scores_score_each_class_against_its_own_truth():
    from mosaicflow.yolo.scoring import SegmentationRun

    images, anns = gt_for([[disc(40, 40, 10, 10, 6), disc(40, 40, 28, 28, 8)]] * 4)
    for k, ann in enumerate(anns):
        ann["category_id"] = 1 + k % 2  # the small disc a region, the large one a face
    hits = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 0.9,
             "segmentation": a["segmentation"], "bbox": a["bbox"]} for a in anns]  # fmt: skip
    # every region found; two faces found as faces, the other two called regions
    for det in hits[1::2][2:]:
        det["category_id"] = 1
    run = SegmentationRun(
        images=images, gt_anns=anns, det_segm=hits, det_box=hits,
        names=("mosaic_region", "mosaic_face"),
    )  # fmt: skip
    scores = run.class_scores()
    assert scores["per_class_instances"] == {"mosaic_region": 4, "mosaic_face": 4}
    for kind in ("mask", "box"):
        per_class = scores[f"per_class_{kind}_map50"]
        assert per_class["mosaic_face"] == pytest.approx(0.5, abs=0.02)
        assert 0.5 < per_class["mosaic_region"] < 1.0  # two faces called regions rank with them
        low, high = scores[f"per_class_{kind}_map50_ci95"]["mosaic_face"]
        assert low <= per_class["mosaic_face"] <= high


def test_truth_categories_map_regions_and_faces_to_the_model_classes():
    from mosaicflow.yolo.classes import face_class, truth_categories

    assert truth_categories({0: "mosaic_region", 1: "mosaic_face"}) == (1, 2)
    assert truth_categories({0: "mosaic_sfw_head", 1: "mosaic_nsfw"}) == (2, 1)
    assert truth_categories({0: "mosaic"}) == (1, 1)  # one class: the faces are regions
    assert face_class({0: "mosaic"}) is None and face_class({3: "mosaic_face"}) == 3


def test_faces_are_left_alone_only_by_a_detector_with_a_face_class_not_restored():
    from mosaicflow.evaluation.evaluate import faces_left
    from mosaicflow.yolo.classes import faces_left_alone

    two = {0: "mosaic_region", 1: "mosaic_face"}
    assert faces_left_alone(two) and not faces_left_alone({0: "mosaic"})
    assert not faces_left_alone(two, two)  # --classes asked for the faces too
    detector = ["mosaic_region", "mosaic_face"]
    assert faces_left({"detector_classes": detector, "classes": ["mosaic_region"]})
    assert not faces_left({"detector_classes": detector, "classes": detector})
    assert not faces_left({"detector_classes": ["mosaic"], "classes": ["mosaic"]})
    assert not faces_left({"classes": ["mosaic_region"]})  # an older summary: no classes


def test_a_class_without_truth_has_no_score():
    from mosaicflow.yolo.scoring import SegmentationRun

    images, anns = gt_for([[disc(40, 40, 10, 10, 6)]] * 2)
    hits = [{"image_id": a["image_id"], "category_id": 1, "score": 0.9,
             "segmentation": a["segmentation"], "bbox": a["bbox"]} for a in anns]  # fmt: skip
    run = SegmentationRun(images=images, gt_anns=anns, det_segm=hits, det_box=hits,
                          names=("mosaic_region", "mosaic_face"))  # fmt: skip
    scores = run.class_scores()
    assert scores["per_class_mask_map50"] == {"mosaic_region": 1.0, "mosaic_face": None}
    assert scores["per_class_box_map50_ci95"]["mosaic_face"] is None
