"""Training-curve plots from a small results.csv and a restoration card."""

from __future__ import annotations

import json

import cv2
import pytest

from mosaicflow.evaluation.curves import plot_training_curve, read_yolo_curve, yolo_results_csv
from mosaicflow.yolo.pr_curves import plot_pr_curves

CSV = """   epoch,   time,  train/box_loss,  train/seg_loss,  metrics/mAP50(M),  val/box_loss
1,10.0,4.0,5.0,0.0,0.0
2,20.0,3.0,4.0,0.2,2.5
3,30.0,2.0,3.5,0.4,2.0
"""


def _png(path):
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
    return image


def _train_json(tmp_path, key="abc123"):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"state_key": key, "model": "detector"}))
    return path


def test_yolo_curve_from_results_csv(tmp_path):
    work = tmp_path / "_work"
    csv = work / "abc123" / "run" / "results.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text(CSV)
    record = _train_json(tmp_path)
    assert yolo_results_csv(record, work) == csv
    assert list(read_yolo_curve(csv).columns)[:3] == ["epoch", "time", "train/box_loss"]
    out = plot_training_curve("detector", record, tmp_path / "detector.png", work_root=work)
    _png(out)
    # same scalars, same bytes (the report's figures are deterministic)
    again = plot_training_curve("detector", record, tmp_path / "again.png", work_root=work)
    assert out.read_bytes() == again.read_bytes()


def test_yolo_curve_without_logged_scalars_says_so(tmp_path):
    out = plot_training_curve(
        "watermark", _train_json(tmp_path), tmp_path / "w.png", work_root=tmp_path / "_work"
    )
    _png(out)
    with pytest.raises(ValueError, match="work folder"):
        plot_training_curve("watermark", _train_json(tmp_path), tmp_path / "x.png")


def test_bad_inputs_fail_naming_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": "x"}))
    with pytest.raises(ValueError, match=r"bad\.json"):
        yolo_results_csv(bad, tmp_path)
    csv = tmp_path / "results.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"results\.csv"):
        read_yolo_curve(csv)


def test_restoration_curve_with_baselines(tmp_path):
    card = {
        "iterations": {"stage1": 4, "stage2": 2},
        "stage1": {
            "loss_curve": [{"iter": 2, "pixel": 0.2}, {"iter": 4, "pixel": 0.1}],
            "validation": [{"iter": 0, "psnr_mask": 18.0}, {"iter": 4, "psnr_mask": 21.0}],
        },
        "stage2": {
            "loss_curve": [{"iter": 2, "pixel": 0.1, "gan": 0.7}],
            "validation": [{"iter": 2, "psnr_mask": 22.0}],
        },
        "baselines": {"input": {"psnr_mask": 19.0}, "blur": {"psnr_mask": 20.0, "sigma": 2.0}},
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(card))
    _png(plot_training_curve("restoration", path, tmp_path / "restoration.png"))
    # an untrained stage and missing baselines still plot
    path.write_text(json.dumps({"stage1": None, "stage2": None}))
    _png(plot_training_curve("restoration", path, tmp_path / "empty.png"))
    path.write_text("[]")
    with pytest.raises(ValueError, match=r"model\.json"):
        plot_training_curve("restoration", path, tmp_path / "bad.png")


def test_pr_curves_plot_masks_and_boxes_or_say_there_is_no_truth(tmp_path):
    recall = [i / 100 for i in range(101)]
    curves = {"mask": {"mosaic": [1.0] * 51 + [0.0] * 50}, "box": {"mosaic": [0.8] * 101}}
    both = _png(plot_pr_curves(curves, recall, tmp_path / "pr.png", "detector"))
    boxes = _png(plot_pr_curves({"box": {"logo": [0.5] * 101, "text": None}}, recall,
                                tmp_path / "box.png", "watermark"))  # fmt: skip
    assert both.shape[1] > boxes.shape[1]  # two panels against one
    _png(plot_pr_curves(None, recall, tmp_path / "none.png", "region_seg"))
    _png(plot_pr_curves({"mask": {"region": None}}, recall, tmp_path / "n.png", "region_seg"))
    with pytest.raises(ValueError, match="detector mask mosaic: 3 precision values"):
        plot_pr_curves({"mask": {"mosaic": [1, 1, 1]}}, recall, tmp_path / "x.png", "detector")
