"""A user's folder inputs are listed file by file, so that an edit in place reruns their jobs."""

from __future__ import annotations

import os
from types import SimpleNamespace

from mosaicflow.config import validate_config
from mosaicflow.plan.folder_inputs import labelme_files, yolo_set_files
from mosaicflow.plan.run import Run
from mosaicflow.plan.stages import label_issues, regions, yolo


def _files(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_labelme_files_are_the_json_files_and_the_images_below(tmp_path):
    _files(tmp_path, "b.json", "b.JPG", "a.json", "images/a.png", "notes.txt", ".h.json",
           "sub/c.json", ".cache/d.jpg")  # fmt: skip
    listed = [p.removeprefix(f"{tmp_path}/") for p in labelme_files(tmp_path)]
    # the reader's JSON files (directly in the folder, hidden ones too), every image below
    assert listed == [".h.json", "a.json", "b.JPG", "b.json", "images/a.png"]
    assert labelme_files(tmp_path / "missing") == []


def test_a_yolo_set_lists_its_files_through_linked_folders_each_once(tmp_path):
    store = tmp_path / "store"
    _files(store, "a.jpg")
    marks = tmp_path / "marks"
    _files(marks, "data.yaml", "labels/train/a.txt", "labels/train/.cache/x.txt", "README.md")
    (marks / "images").mkdir()
    (marks / "images" / "train").symlink_to(store)
    (store / "loop").symlink_to(marks)  # a link back up is walked once
    (marks / "labels" / "train" / "b.txt").symlink_to("/dev/zero")  # never an input: it would
    os.mkfifo(marks / "labels" / "train" / "c.txt")  # hang Snakemake's checksum
    listed = [p.removeprefix(f"{marks}/") for p in yolo_set_files(marks)]
    assert listed == ["data.yaml", "images/train/a.jpg", "labels/train/a.txt"]
    assert yolo_set_files(tmp_path / "missing") == []


def test_the_rules_reading_a_user_s_folders_get_their_files(tmp_path):
    train, val, marks = tmp_path / "train", tmp_path / "val", tmp_path / "marks"
    _files(train, "a.json", "a.jpg")
    _files(val, "b.json", "b.jpg")
    _files(marks, "data.yaml", "images/train/m.jpg", "labels/train/m.txt")
    videos = tmp_path / "videos"
    _files(videos, "v.mp4")
    config = {
        "profile": "demo",
        "source": {"kind": "videos", "videos": str(videos), "labelme_train": str(train),
                   "labelme_val": str(val), "watermark_dataset": str(marks)},
    }  # fmt: skip
    validate_config(config)
    run = Run.of(config)
    wildcards = SimpleNamespace(model="watermark")
    assert regions.region_labelme_files(run, None)["labelme_files"] == [
        str(train / "a.jpg"), str(train / "a.json"), str(val / "b.jpg"), str(val / "b.json")
    ]  # fmt: skip
    assert label_issues.label_issue_inputs(run, None)["labelme_files"] == [
        str(train / "a.jpg"), str(train / "a.json")
    ]  # fmt: skip
    assert yolo.train_model_input(run, wildcards)["dataset_files"] == yolo_set_files(marks)


def test_the_demo_s_folders_are_its_rules_outputs_and_list_no_files():
    config = {"profile": "demo"}
    validate_config(config)
    run = Run.of(config)
    assert regions.region_labelme_files(run, None) == {"labelme_files": []}
    assert "dataset_files" not in yolo.train_model_input(run, SimpleNamespace(model="watermark"))
