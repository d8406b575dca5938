"""`mosaicflow convert ...` verbs: help texts and real runs on tiny folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from mosaicflow.cli import main
from mosaicflow.formats.masks import write_mask

from .helpers import labelme_shape, make_labelme


@pytest.mark.parametrize(
    "verb", ["labelme-to-yolo", "yolo-to-labelme", "masks-to-coco", "coco-to-yolo"]
)
def test_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", verb, "--help"])
    assert exit_info.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_verbs_chain(tmp_path, capsys):
    train, val = tmp_path / "labelme" / "train", tmp_path / "labelme" / "val"
    for folder, video in ((train, "world-train-00"), (val, "world-val-00")):
        make_labelme(folder, f"{video}-000000", [labelme_shape("nsfw", [[1, 1], [30, 2], [9, 40]])])
        make_labelme(folder, f"{video}-000004", flags={"sfw": True})
    ds = tmp_path / "ds"
    assert (
        main(
            [
                "convert",
                "labelme-to-yolo",
                "--train",
                str(train),
                "--val",
                str(val),
                "--labels",
                "nsfw",
                "--out",
                str(ds),
            ]
        )
        == 0
    )
    assert yaml.safe_load((ds / "data.yaml").read_text())["names"] == {0: "nsfw"}
    assert (
        main(
            [
                "convert",
                "yolo-to-labelme",
                "--images",
                str(ds / "train" / "images"),
                "--labels",
                str(ds / "train" / "labels"),
                "--names",
                "nsfw",
                "--out",
                str(tmp_path / "pre"),
            ]
        )
        == 0
    )
    assert (
        len(json.loads((tmp_path / "pre" / "world-train-00-000000.json").read_text())["shapes"])
        == 1
    )

    mask = np.zeros((32, 32), bool)
    mask[4:10, 4:20] = True
    write_mask(tmp_path / "masks" / "a.png", mask)
    coco = tmp_path / "coco.json"
    assert (
        main(
            [
                "convert",
                "masks-to-coco",
                "--masks",
                str(tmp_path / "masks"),
                "--categories",
                "nsfw",
                "--out",
                str(coco),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "convert",
                "coco-to-yolo",
                "--coco",
                str(coco),
                "--names",
                "nsfw",
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 0
    )
    assert (tmp_path / "y" / "labels" / "a.txt").read_text().startswith("0 ")
    capsys.readouterr()

    (train / "world-train-00-000004.json").write_text("{")
    assert (
        main(
            [
                "convert",
                "labelme-to-yolo",
                "--train",
                str(train),
                "--labels",
                "nsfw",
                "--out",
                str(tmp_path / "bad"),
            ]
        )
        == 2
    )
    assert "world-train-00-000004.json: malformed" in capsys.readouterr().err


def _tree(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _labelme_to_yolo(train, out):
    argv = ["convert", "labelme-to-yolo", "--train", str(train), "--labels", "nsfw"]
    return main([*argv, "--out", str(out)])


def test_labelme_to_yolo_never_replaces_its_inputs_or_a_foreign_folder(tmp_path, capsys):
    train = tmp_path / "labelme"
    for i in range(3):
        make_labelme(train, f"v-{i:06d}", [labelme_shape("nsfw", [[1, 1], [30, 2], [9, 40]])])
    before = _tree(tmp_path)
    assert len(before) == 6  # three labelme files and their images
    for out in (train, tmp_path, train / "dataset"):  # is, contains, lies inside the input
        assert _labelme_to_yolo(train, out) == 2
        assert "output" in capsys.readouterr().err
        assert _tree(tmp_path) == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("the user's")
    assert _labelme_to_yolo(train, foreign) == 2
    assert (
        "not an earlier output of `mosaicflow convert labelme-to-yolo`" in capsys.readouterr().err
    )
    assert (foreign / "thesis.txt").read_text() == "the user's"


def test_labelme_to_yolo_reruns_into_its_own_output(tmp_path):
    train = tmp_path / "labelme"
    for i in range(3):
        make_labelme(train, f"v-{i:06d}", [labelme_shape("nsfw", [[1, 1], [30, 2], [9, 40]])])
    out = tmp_path / "ds"
    assert _labelme_to_yolo(train, out) == 0
    first = _tree(out)
    assert _labelme_to_yolo(train, out) == 0  # its own earlier output: replaced
    assert _tree(out) == first
    assert json.loads((out / ".mosaicflow-output").read_text()) == {
        "command": "convert labelme-to-yolo"
    }
    yolo = tmp_path / "y"
    argv = ["convert", "coco-to-yolo", "--coco", str(tmp_path / "c.json"), "--names", "nsfw"]
    (tmp_path / "c.json").write_text(
        json.dumps({"images": [], "annotations": [], "categories": []})
    )
    assert main([*argv, "--out", str(yolo)]) == 0
    assert main([*argv, "--out", str(out)]) == 2  # another command's output is not replaced
    assert _tree(out) == first
