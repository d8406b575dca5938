"""The label converters work on the demo world's labelme folders (rule and CLI agree)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from tests.unit.formats.helpers import yolo_dataset_check

pytestmark = [pytest.mark.workflow, pytest.mark.demo]


def label_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.txt")}


def test_region_dataset_passes_ultralytics_check(demo_results, ultralytics_offline, tmp_path):
    # ultralytics writes label caches next to the data: check a copy, never the demo results
    dataset = tmp_path / "dataset"
    shutil.copytree(demo_results / "regions" / "dataset", dataset)
    data = yaml.safe_load((dataset / "data.yaml").read_text())
    data["path"] = str(dataset)
    for split in ("train", "val"):
        data[split] = str(dataset / split / "images")
    data_yaml = dataset / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data))
    assert data["names"] == {0: "nsfw"}
    for split in ("train", "val"):
        found, missing, empty, corrupt, _ = yolo_dataset_check(
            ultralytics_offline, data_yaml, split, "segment"
        )
        assert found > 0 and missing == 0 and corrupt == 0
        assert 0 < empty < found  # negatives from frames without targets, but not only those


def test_cli_verbs_work_on_demo_labelme(demo_results, tmp_path):
    labelme = demo_results / "world" / "labelme"

    def cli(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "mosaicflow.cli", "convert", *args],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    out = tmp_path / "yolo"
    cli(
        "labelme-to-yolo",
        "--train",
        str(labelme / "train"),
        "--val",
        str(labelme / "val"),
        "--labels",
        "nsfw",
        "--out",
        str(out),
    )
    assert label_files(out) == label_files(demo_results / "regions" / "dataset")
    back = tmp_path / "labelme"
    cli(
        "yolo-to-labelme",
        "--images",
        str(out / "val" / "images"),
        "--labels",
        str(out / "val" / "labels"),
        "--names",
        "nsfw",
        "--out",
        str(back),
    )
    assert len(list(back.glob("*.json"))) == len(list((labelme / "val").glob("*.json")))


def test_label_videos_feed_only_the_labelme_train_set(demo_results):
    def videos(names):
        return {name.rsplit("_", 1)[0] for name in names}

    world = demo_results / "world"
    labelme = videos(p.stem for p in (world / "labelme" / "train").glob("*.json"))
    assert any(v.startswith("world-label-") for v in labelme)
    assert any(v.startswith("world-train-") for v in labelme)
    watermarks = videos(p.stem for p in (world / "watermarks" / "train" / "images").iterdir())
    assert watermarks and all(v.startswith("world-train-") for v in watermarks)
    sources = [p.name for p in (demo_results / "frames").iterdir()]
    assert sources and not any("-label-" in name for name in sources)
    assert not any("-label-" in p.name for p in (demo_results / "regions").iterdir())
