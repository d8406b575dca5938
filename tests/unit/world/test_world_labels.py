"""Label sets: labelme polygons, the watermark YOLO set, the contact sheet."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml

from mosaicflow.formats.truth import load_truth_json, read_truth
from mosaicflow.world import contact_sheet, write_labelme_set, write_watermark_set
from mosaicflow.world.config import LabelNoise
from mosaicflow.world.label_noise import polygon_box
from mosaicflow.world.labels import mask_polygons

from .conftest import small_config


def _train_val(world):
    return [p for n, p in sorted(world.items()) if "-test-" not in n]


def test_labelme_polygons_rasterise_back_to_truth(small_world, tmp_path):
    cfg = small_config()
    items = _train_val(small_world)
    count = write_labelme_set(items, tmp_path / "labelme", cfg, seed=7)
    files = sorted((tmp_path / "labelme").glob("*.json"))
    assert count == len(files) > 0
    truths = {load_truth_json(p[2])["name"]: p for p in items}
    ious, empties = [], 0
    for path in files:
        doc = json.loads(path.read_text())
        name, frame = path.stem.rsplit("_", 1)
        frame = int(frame)
        assert (path.parent / doc["imagePath"]).is_file()
        _, mask = next(read_truth(truths[name][1], [frame]))
        if not doc["shapes"]:
            assert doc["flags"] == {"sfw": True} and not mask.any()
            empties += 1
            continue
        assert doc["flags"] == {"sfw": False}
        drawn = np.zeros_like(mask)
        for shape in doc["shapes"]:
            assert shape["label"] == "nsfw" and shape["shape_type"] == "polygon"
            cv2.fillPoly(drawn, [np.round(np.array(shape["points"])).astype(np.int32)], 1)
        truth = mask > 0
        ious.append((truth & (drawn > 0)).sum() / (truth | (drawn > 0)).sum())
    assert empties > 0
    assert min(ious) > 0.8 and np.mean(ious) > 0.9


def test_labelme_set_is_deterministic(small_world, tmp_path):
    items = _train_val(small_world)
    write_labelme_set(items, tmp_path / "a", small_config(), seed=7)
    write_labelme_set(items, tmp_path / "b", small_config(), seed=7)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_labelme_uses_configured_labels_and_every(small_world, tmp_path):
    cfg = small_config(label="region", empty_label="clean", labelme_every=5)
    items = _train_val(small_world)[:1]
    count = write_labelme_set(items, tmp_path / "lm", cfg, seed=1)
    frames = load_truth_json(items[0][2])["frames"]
    assert count == len(range(count)) and frames // 5 <= count <= frames // 5 + 1
    docs = [json.loads(p.read_text()) for p in (tmp_path / "lm").glob("*.json")]
    assert all(set(d["flags"]) == {"clean"} for d in docs)
    assert {s["label"] for d in docs for s in d["shapes"]} == {"region"}


def test_mask_polygons_split_parts_and_drop_specks():
    mask = np.zeros((40, 40), np.uint8)
    mask[2:12, 2:12] = 1
    mask[20:30, 5:15] = 1
    mask[30:38, 30:38] = 2
    mask[0, 39] = 2
    shapes = mask_polygons(mask)
    assert sorted(i for i, _ in shapes) == [1, 1, 2]


def test_watermark_set_is_valid_yolo(small_world, tmp_path):
    cfg = small_config()
    train = [p for n, p in sorted(small_world.items()) if "-train-" in n]
    val = [p for n, p in sorted(small_world.items()) if "-val-" in n]
    stats = write_watermark_set(train, val, tmp_path / "wm", cfg, seed=7)
    data = yaml.safe_load((tmp_path / "wm" / "data.yaml").read_text())
    assert data["names"] == {0: "text", 1: "logo"} and data["path"] == str(
        (tmp_path / "wm").resolve()
    )
    for split in ("train", "val"):
        images = sorted((tmp_path / "wm" / split / "images").glob("*.jpg"))
        labels = sorted((tmp_path / "wm" / split / "labels").glob("*.txt"))
        assert len(images) == len(labels) == stats[f"{split}_images"] > 0
        rows = [line.split() for p in labels for line in p.read_text().splitlines()]
        assert len(rows) == stats[f"{split}_boxes"]
        for row in rows:
            assert row[0] in {"0", "1"}
            values = [float(v) for v in row[1:]]
            assert all(0 <= v <= 1 for v in values) and values[2] > 0 and values[3] > 0
    assert stats["train_boxes"] > 0
    assert {
        r[0]
        for p in (tmp_path / "wm").glob("*/labels/*.txt")
        for r in (line.split() for line in p.read_text().splitlines())
    } == {"0", "1"}


def test_watermark_overlays_add_fresh_labelled_watermarks(small_world, tmp_path):
    train = [p for n, p in sorted(small_world.items()) if "-train-" in n]
    plain = write_watermark_set(
        train, [], tmp_path / "plain", small_config(watermark_overlay_p=0), 7
    )
    mixed = write_watermark_set(
        train, [], tmp_path / "mixed", small_config(watermark_overlay_p=1), 7
    )
    assert plain["train_images"] == mixed["train_images"]
    assert mixed["train_boxes"] >= plain["train_boxes"] + plain["train_images"]
    truth = {load_truth_json(j)["name"]: load_truth_json(j) for _, _, j in train}
    changed = 0
    for label in sorted((tmp_path / "plain" / "train" / "labels").glob("*.txt")):
        name, index = label.stem.rsplit("_", 1)
        expected = truth[name]["per_frame"][int(index)]["watermarks"]
        assert len(label.read_text().splitlines()) == len(expected)  # p = 0: the video as is
        image = tmp_path / "{}" / "train" / "images" / f"{label.stem}.jpg"
        before = cv2.imread(str(image).format("plain")).astype(int)
        after = cv2.imread(str(image).format("mixed")).astype(int)
        rows = (tmp_path / "mixed" / "train" / "labels" / label.name).read_text().splitlines()
        h, w = before.shape[:2]
        diff = np.abs(after - before).max(axis=2) > 24
        covered = np.zeros((h, w), bool)
        for row in rows:
            cx, cy, bw, bh = (float(v) for v in row.split()[1:])
            x0, y0 = round((cx - bw / 2) * w), round((cy - bh / 2) * h)
            covered[
                max(0, y0 - 2) : y0 + round(bh * h) + 2, max(0, x0 - 2) : x0 + round(bw * w) + 2
            ] = True
        assert not (diff & ~covered).any()  # the image changed only inside labelled boxes
        changed += int(diff.any())
    assert changed >= plain["train_images"] // 2
    again = write_watermark_set(
        train, [], tmp_path / "again", small_config(watermark_overlay_p=1), 7
    )
    assert again == mixed
    for path in sorted((tmp_path / "again").rglob("*.*")):
        if path.name != "data.yaml":
            assert (
                path.read_bytes()
                == (tmp_path / "mixed" / path.relative_to(tmp_path / "again")).read_bytes()
            )


def test_contact_sheet_writes_png(small_world, tmp_path):
    out = contact_sheet(list(small_world.values()), tmp_path / "sheet.png", seed=7)
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] >= 96 * len(small_world)


def _box_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def test_label_noise_is_recorded_and_matches_the_files(small_world, tmp_path):
    items = _train_val(small_world)
    clean_dir, noisy_dir = tmp_path / "clean", tmp_path / "noisy"
    write_labelme_set(items, clean_dir, small_config(), seed=7)
    noise = LabelNoise(fraction=0.6)
    count = write_labelme_set(
        items, noisy_dir, small_config(), seed=7, noise=noise, noise_record=tmp_path / "e.json"
    )
    record = json.loads((tmp_path / "e.json").read_text())
    assert record["frames"] == count
    errors = {e["image"]: e for e in record["errors"]}
    assert {e["kind"] for e in errors.values()} == {"drop", "shift", "distractor"}
    assert 0.3 * count < len(errors) <= count
    for path in sorted(clean_dir.glob("*.json")):
        clean = json.loads(path.read_text())
        noisy = json.loads((noisy_dir / path.name).read_text())
        assert (clean_dir / clean["imagePath"]).read_bytes() == (
            noisy_dir / noisy["imagePath"]
        ).read_bytes()
        error = errors.get(clean["imagePath"])
        if error is None:
            assert noisy == clean
            continue
        old = [polygon_box(s["points"]) for s in clean["shapes"]]
        new = [polygon_box(s["points"]) for s in noisy["shapes"]]
        if error["kind"] == "drop":
            assert len(new) == len(old) - 1 and error["truth_box"] in old
        elif error["kind"] == "shift":
            assert len(new) == len(old) and error["label_box"] in new
            assert error["truth_box"] in old and error["truth_box"] not in new
            assert _box_iou(error["label_box"], error["truth_box"]) < 0.35
        else:  # a distractor outlined as a target: off every target, flagged as not empty
            assert len(new) == len(old) + 1 and noisy["flags"]["sfw"] is False
            assert all(_box_iou(error["label_box"], b) < 0.3 for b in old)


def test_distractor_boxes_are_in_the_truth(small_world):
    truth = load_truth_json(next(iter(small_world.values()))[2])
    boxes = [b for p in truth["per_frame"] for b in p["distractors"]]
    assert boxes, "the small world has distractors"
    w, h = truth["width"], truth["height"]
    assert all(0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h for x0, y0, x1, y1 in boxes)


def test_label_noise_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown"):
        LabelNoise(fraction=0.1, kinds=("drop", "blur"))


def test_label_noise_follows_the_seed(small_world, tmp_path):
    items = _train_val(small_world)
    noise = LabelNoise(fraction=0.5)
    records = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_labelme_set(
            items, tmp_path / name, small_config(), seed=seed, noise=noise,
            noise_record=tmp_path / f"{name}.json",
        )  # fmt: skip
        records[name] = (tmp_path / f"{name}.json").read_bytes()
    assert records["a"] == records["b"]
    assert records["a"] != records["c"]
    for path in sorted((tmp_path / "a").glob("*.json")):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
