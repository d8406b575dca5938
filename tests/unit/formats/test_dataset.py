"""labelme folders -> ultralytics dataset: layout, data.yaml, provenance, atomicity, YOLO check."""

from __future__ import annotations

import json

import pytest
import yaml

from mosaicflow.formats.dataset import labelme_to_yolo_dataset
from mosaicflow.formats.yolo import read_yolo_labels

from .helpers import labelme_shape, make_labelme, yolo_dataset_check

LABELS = ["nsfw"]


def _world(root, videos=("vid-a", "vid-b", "vid-c", "vid-d"), frames=4):
    """labelme files named <video>-<frame>; every other frame empty (flagged or no shapes)."""
    folder = root / "labelme"
    for v, video in enumerate(videos):
        for f in range(frames):
            stem = f"{video}-{f:06d}"
            if f % 2:
                flags = {"sfw": True} if f % 4 == 1 else None
                make_labelme(folder, stem, [], flags=flags, seed=v * 10 + f)
            else:
                shapes = [
                    labelme_shape("nsfw", [[2 + f, 3], [30, 5 + v], [20, 40]]),
                    labelme_shape("nsfw", [[40, 30], [63, 47]], "rectangle"),  # touches the border
                    labelme_shape("nsfw", [[50, 10], [50, 14]], "circle"),
                ]
                make_labelme(folder, stem, shapes, seed=v * 10 + f)
    return folder


def test_dataset_layout_yaml_and_provenance(tmp_path, ultralytics_offline):
    train = _world(tmp_path / "t", ("vid-a", "vid-b"))
    val = _world(tmp_path / "v", ("vid-c",))
    out = tmp_path / "ds"
    result = labelme_to_yolo_dataset([train], [val], LABELS, out, seed=3, code="abc")
    assert result.counts["train"] == {"images": 8, "empty": 4, "instances": 12, "ignored": 0}
    assert result.counts["val"]["images"] == 4
    for split, n in (("train", 8), ("val", 4)):
        assert len(list((out / split / "images").glob("*.jpg"))) == n
        assert len(list((out / split / "labels").glob("*.txt"))) == n
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "nsfw"} and data["nc"] == 1
    assert data["train"] == str(out.absolute() / "train" / "images")
    assert data["val"].startswith("/")
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["code_hash"] == "abc" and prov["counts"]["train_instances"] == 12
    assert prov["videos"] == {"train": ["vid-a", "vid-b"], "val": ["vid-c"]}
    labels = read_yolo_labels(out / "train" / "labels" / "vid-a-000000.txt", 1)
    assert len(labels) == 3 and all(lb.points.min() >= 0 and lb.points.max() <= 1 for lb in labels)
    assert (out / "train" / "labels" / "vid-a-000001.txt").read_text() == ""

    for split in ("train", "val"):
        nf, nm, ne, nc, dataset = yolo_dataset_check(
            ultralytics_offline, out / "data.yaml", split, "segment"
        )
        assert (nf, nm, nc) == (result.counts[split]["images"], 0, 0)
        assert ne == result.counts[split]["empty"]
        assert (
            sum(len(lb["segments"]) for lb in dataset.labels) == result.counts[split]["instances"]
        )


def test_detect_task_passes_the_check(tmp_path, ultralytics_offline):
    out = tmp_path / "det"
    labelme_to_yolo_dataset([_world(tmp_path)], [], LABELS, out, seed=0, task="detect")
    line = (out / "train" / "labels").glob("*.txt")
    assert any(len(p.read_text().split("\n")[0].split()) == 5 for p in line)
    for split in ("train", "val"):
        _, nm, _, nc, _ = yolo_dataset_check(
            ultralytics_offline, out / "data.yaml", split, "detect"
        )
        assert (nm, nc) == (0, 0)


def test_split_without_val_dirs_is_grouped_and_seeded(tmp_path):
    src = _world(tmp_path, tuple(f"vid-{i}" for i in range(10)), frames=4)
    a = labelme_to_yolo_dataset([src], [], LABELS, tmp_path / "a", seed=1, val_fraction=0.3)
    b = labelme_to_yolo_dataset([src], [], LABELS, tmp_path / "b", seed=1, val_fraction=0.3)
    assert a.splits == b.splits
    videos = {s: {p.stem.rsplit("-", 1)[0] for p in files} for s, files in a.splits.items()}
    assert not videos["train"] & videos["val"]
    assert len(videos["val"]) == 3
    assert a.counts["val"]["empty"] == 6  # stratified: half of the frames are empty


def test_bad_file_fails_naming_it_and_keeps_previous_output(tmp_path):
    src = _world(tmp_path, ("vid-a", "vid-b"))
    out = tmp_path / "ds"
    labelme_to_yolo_dataset([src], [], LABELS, out, seed=0)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    (src / "vid-b-000003.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"vid-b-000003\.json: malformed"):
        labelme_to_yolo_dataset([src], [], LABELS, out, seed=0)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]

    fresh = tmp_path / "fresh"
    with pytest.raises(ValueError, match="malformed"):
        labelme_to_yolo_dataset([src], [], LABELS, fresh, seed=0)
    assert not fresh.exists()


def test_duplicate_names_and_bad_arguments(tmp_path):
    a = _world(tmp_path / "a", ("vid-a",))
    b = _world(tmp_path / "b", ("vid-a",))
    with pytest.raises(ValueError, match="same file name"):
        labelme_to_yolo_dataset([a], [b], LABELS, tmp_path / "o", seed=0)
    with pytest.raises(ValueError, match="unique"):
        labelme_to_yolo_dataset([a], [], ["x", "x"], tmp_path / "o", seed=0)
    with pytest.raises(ValueError, match="labelme folder not found"):
        labelme_to_yolo_dataset([tmp_path / "nope"], [], LABELS, tmp_path / "o", seed=0)
