"""The label-issue ranking: which disagreement between labels and predictions flags a frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mosaicflow.curate.label_issues import (
    COLUMNS,
    LabelIssuesConfig,
    average_precision,
    box_iou,
    labelled,
    rank_frames,
    score_against_truth,
    supported,
)


def _labels(*boxes):
    return {
        "bboxes": np.asarray(boxes, float).reshape(-1, 4),
        "labels": np.zeros(len(boxes), np.int64),
    }


def _preds(*boxes):
    return [np.asarray(boxes, float).reshape(-1, 5)]


TARGET = [100, 50, 140, 90]


def _frames():
    """Eight clean frames (label and a confident prediction agree) and one of each error."""
    frames = {
        f"clean{i}.jpg": (_labels([20 + i, 20, 60 + i, 60]), _preds([21 + i, 21, 60 + i, 60, 0.85]))
        for i in range(8)
    }
    frames["empty.jpg"] = (_labels(), _preds())
    frames["drop.jpg"] = (_labels(), _preds([*TARGET, 0.8]))
    frames["shift.jpg"] = (_labels([130, 50, 170, 90]), _preds([*TARGET, 0.8]))
    frames["distractor.jpg"] = (
        _labels(TARGET, [200, 100, 240, 140]),
        _preds([*TARGET, 0.9], [200, 100, 240, 140, 0.06]),
    )
    return frames


def _table(threshold=0.5):
    frames = _frames()
    names = [(f"lm/{name[:-4]}.json", name) for name in frames]
    return rank_frames(
        names, [v[0] for v in frames.values()], [v[1] for v in frames.values()], threshold
    )


def test_each_kind_of_error_is_flagged_and_clean_frames_are_not():
    table = _table()
    assert list(table.columns) == list(COLUMNS)
    flagged = set(table.loc[table["issue"], "image"])
    assert flagged == {"drop.jpg", "shift.jpg", "distractor.jpg"}
    reasons = dict(zip(table["image"], table["reason"], strict=True))
    assert reasons["drop.jpg"] in ("unlabelled", "overlooked")
    assert reasons["distractor.jpg"] == "unsupported"
    assert reasons["shift.jpg"] in ("unsupported", "location", "unlabelled")
    # ranked lowest quality first, ranks 1..n
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    assert table["quality"].is_monotonic_increasing
    assert set(table["image"].head(3)) == flagged


def test_support_and_coverage_of_single_frames():
    assert supported(_labels(TARGET), _preds([*TARGET, 0.7])) == pytest.approx(0.7)
    assert supported(_labels(TARGET), _preds([0, 0, 10, 10, 0.9])) == 0.0
    assert supported(_labels(), _preds([*TARGET, 0.9])) == 1.0
    assert labelled(_labels(TARGET), _preds([*TARGET, 0.9])) == 1.0
    assert labelled(_labels(), _preds([*TARGET, 0.9])) == pytest.approx(0.1)
    assert labelled(_labels([0, 0, 10, 10]), _preds([*TARGET, 0.6])) == pytest.approx(0.4)
    # a prediction of another class does not support a label
    other = [np.zeros((0, 5)), np.asarray([[*TARGET, 0.9]])]
    assert supported(_labels(TARGET), other) == 0.0


def test_box_iou():
    iou = box_iou(
        np.array([[0, 0, 10, 10.0]]), np.array([[0, 0, 10, 10.0], [5, 0, 15, 10], [20, 20, 30, 30]])
    )
    assert iou[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])


def test_scores_against_the_injected_errors():
    table = _table()
    errors = [
        {"image": "drop.jpg", "kind": "drop"},
        {"image": "shift.jpg", "kind": "shift"},
        {"image": "distractor.jpg", "kind": "distractor"},
        {"image": "clean0.jpg", "kind": "shift"},  # an error the finder misses
    ]
    scores = score_against_truth(table, errors)
    assert scores["errors"] == 4 and scores["flagged"] == 3
    assert scores["recall"] == 0.75 and scores["precision"] == 1.0
    assert scores["by_kind"]["shift"] == {"errors": 2, "found": 1, "recall": 0.5}
    missed_rank = int(table.loc[table["image"] == "clean0.jpg", "rank"].iloc[0])
    assert scores["average_precision"] == pytest.approx((3 + 4 / missed_rank) / 4, abs=1e-4)


def test_precision_at_recall():
    from mosaicflow.curate.label_issues import precision_at_recall

    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    truth = np.array([True, False, True, False, True])
    assert precision_at_recall(scores, truth, 0.6) == pytest.approx(2 / 3)
    assert precision_at_recall(scores, truth, 1.0) == pytest.approx(3 / 5)
    assert precision_at_recall(scores, truth, 0.3) == 1.0


def test_average_precision():
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([True, True, False])) == 1.0
    assert average_precision(
        np.array([0.9, 0.8, 0.1]), np.array([False, True, True])
    ) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert np.isnan(average_precision(np.array([0.5]), np.array([False])))


def test_empty_set_gives_an_empty_table():
    table = rank_frames([], [], [], 0.5)
    assert isinstance(table, pd.DataFrame) and table.empty and list(table.columns) == list(COLUMNS)


def test_config_is_checked():
    with pytest.raises(ValueError, match="label_issues"):
        LabelIssuesConfig(threshold=0)


def _labelme_folder(folder, count=4):
    """``count`` labelme frames (one square target each) with their JPEG images."""
    import cv2

    from mosaicflow.io import write_json

    folder.mkdir()
    for i in range(count):
        image = np.full((64, 96, 3), 40 * i, np.uint8)
        cv2.imwrite(str(folder / f"f{i}.jpg"), image)
        square = [[10.0 + i, 10.0], [40.0 + i, 10.0], [40.0 + i, 40.0], [10.0 + i, 40.0]]
        write_json(
            folder / f"f{i}.json",
            {
                "version": "5.5.0", "flags": {"sfw": False}, "imagePath": f"f{i}.jpg",
                "imageData": None, "imageWidth": 96, "imageHeight": 64,
                "shapes": [{"label": "nsfw", "points": square, "shape_type": "polygon"}],
            },
        )  # fmt: skip


def test_flagged_frames_are_exported_as_labelme_with_hashes(tmp_path):
    import hashlib
    import json

    from mosaicflow.curate.label_issue_jobs import export_flagged, image_name
    from mosaicflow.curate.label_issues import label_boxes
    from mosaicflow.formats.dataset import read_labelme_dirs
    from mosaicflow.formats.labelme import read_labelme

    _labelme_folder(tmp_path / "lm")
    frames = read_labelme_dirs([tmp_path / "lm"], ["nsfw"], "sfw")
    assert [image_name(f) for _, f in frames] == ["f0.jpg", "f1.jpg", "f2.jpg", "f3.jpg"]
    # the model agrees on f0 and f1, sees nothing on f2, sees an unlabelled target on f3
    preds = [
        _preds([10, 10, 40, 40, 0.9]), _preds([11, 10, 41, 40, 0.9]), _preds(),
        _preds([13, 10, 43, 40, 0.9], [60, 20, 90, 50, 0.95]),
    ]  # fmt: skip
    names = [(source, image_name(f)) for source, f in frames]
    table = rank_frames(names, [label_boxes(f) for _, f in frames], preds, 0.5)
    assert table.loc[table["issue"], "image"].tolist() == ["f2.jpg", "f3.jpg"]

    from mosaicflow.curate.label_issue_jobs import SHEET_TILE, issue_sheet

    sheet = issue_sheet(table, frames, preds)  # two flagged frames, one row of four tiles
    assert sheet.ndim == 3 and SHEET_TILE < sheet.shape[0] < 2 * SHEET_TILE
    tile_w = sheet.shape[1] // 4
    assert (sheet[:, 2 * tile_w :] == 255).all() and (sheet[:, :tile_w] != 255).any()
    records = export_flagged(table, frames, tmp_path / "out", count=5)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "00001_f2.jpg", "00001_f2.json", "00002_f3.jpg", "00002_f3.json", "export.json",
    ]  # fmt: skip
    exported = json.loads((out / "export.json").read_text())
    assert exported["frames"] == records and [r["source"] for r in records] == [
        str(tmp_path / "lm" / "f2.json"), str(tmp_path / "lm" / "f3.json"),
    ]  # fmt: skip
    for record in records:
        doc = read_labelme(out / record["file"], ["nsfw"], "sfw")  # opens in labelme as it is
        source = tmp_path / "lm" / Path(record["source"]).name
        assert doc.image_bytes == (tmp_path / "lm" / f"{source.stem}.jpg").read_bytes()
        assert record["image_sha256"] == hashlib.sha256(doc.image_bytes).hexdigest()
        assert record["labels_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    # inputs untouched, and a smaller export replaces the folder
    assert sorted(p.name for p in (tmp_path / "lm").iterdir())[:2] == ["f0.jpg", "f0.json"]
    export_flagged(table, frames, out, count=1)
    assert len(list(out.glob("*.json"))) == 2


def test_a_labelme_file_escaping_its_folder_is_refused(tmp_path):
    import json

    from mosaicflow.formats.dataset import read_labelme_dirs

    _labelme_folder(tmp_path / "lm", count=1)
    doc = json.loads((tmp_path / "lm" / "f0.json").read_text())
    doc["imagePath"] = "../elsewhere.jpg"
    (tmp_path / "lm" / "f0.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"f0\.json.*leaves the annotation folder"):
        read_labelme_dirs([tmp_path / "lm"], ["nsfw"], "sfw")
