"""Label files that lie about paths, classes or numbers fail naming the file (and line)."""

from __future__ import annotations

import json

import pytest

from mosaicflow.formats.coco import coco_to_yolo
from mosaicflow.formats.yolo import read_yolo_labels


def _coco(path, file_name="a.png", category_id=1):
    doc = {
        "images": [{"id": 7, "file_name": file_name, "height": 10, "width": 10}],
        "annotations": [
            {
                "id": 3,
                "image_id": 7,
                "category_id": category_id,
                "iscrowd": 0,
                "segmentation": [[1, 1, 8, 1, 8, 8]],
            },
        ],
        "categories": [{"id": 1, "name": "nsfw"}],
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("escape", ["../secret.png", "sub/../../secret.png", "/etc/secret.png"])
def test_a_coco_file_name_outside_the_image_folder_is_refused(tmp_path, escape):
    images = tmp_path / "images"
    images.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"outside")
    coco = _coco(tmp_path / "coco.json", file_name=escape.replace("/etc", str(tmp_path)))
    with pytest.raises(ValueError, match=r"coco\.json: image 7 has file_name .* leaves the image"):
        coco_to_yolo(coco, ["nsfw"], tmp_path / "out", image_dir=images)
    assert not (tmp_path / "out").exists()


def test_a_coco_file_name_in_a_subfolder_is_read_from_it(tmp_path):
    (tmp_path / "images" / "sub").mkdir(parents=True)
    (tmp_path / "images" / "sub" / "a.png").write_bytes(b"png")
    coco = _coco(tmp_path / "coco.json", file_name="sub/a.png")
    result = coco_to_yolo(coco, ["nsfw"], tmp_path / "out", image_dir=tmp_path / "images")
    assert result.images == 1 and (tmp_path / "out" / "images" / "a.png").read_bytes() == b"png"


def test_an_annotation_of_an_unknown_category_is_named(tmp_path):
    coco = _coco(tmp_path / "coco.json", category_id=9)
    with pytest.raises(ValueError, match=r"coco\.json: annotation 3 has category_id 9, which is"):
        coco_to_yolo(coco, ["nsfw"], tmp_path / "out")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0.1 zero 0.3 0.4", "non-numeric value"),
        ("0 0.1 0.2 0.3 0.4 0.5 0.6 0.7", "expected 4 .* or an even number"),
        ("0 0.1 0.2 0.3 0.4 0.5", "expected 4 .* or an even number"),
        ("nan 0.5 0.5 0.1 0.1", "invalid class id nan"),
        ("inf 0.5 0.5 0.1 0.1", "invalid class id inf"),
        ("0.5 0.5 0.5 0.1 0.1", "invalid class id 0.5"),
    ],
)
def test_bad_yolo_label_lines_are_named_with_file_and_line(tmp_path, line, message):
    labels = tmp_path / "a.txt"
    labels.write_text(f"0 0.5 0.5 0.2 0.2\n\n{line}\n")
    with pytest.raises(ValueError, match=rf"a\.txt:3: {message}"):
        read_yolo_labels(labels, num_classes=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["images"][0].pop("height"), r"image 7 has no positive 'height'"),
        (lambda d: d["images"][0].update(width="10"), r"image 7 has no positive 'width'"),
        (lambda d: d["annotations"][0].update(id="x"), r"annotation id 'x' is not an integer"),
        (lambda d: d["categories"][0].update(name=["nsfw"]), r"category name \['nsfw'\] is not"),
        (lambda d: d["annotations"][0].update(segmentation=5), r"annotation 3: malformed"),
        (lambda d: d["annotations"][0].update(segmentation={"size": [10, 10]}), r"'counts'"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3], [1, 1, 8, 1, 8, 8]]),
         r"annotation 3: .*an even count"),
        (lambda d: d["annotations"][0].update(segmentation={"size": [5, 5], "counts": "PP"}),
         r"annotation 3: .* RLE is \[5, 5\] \(height, width\), its image \[10, 10\]"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 1, 8, 1, 8, float("nan")]]),
         r"annotation 3: .*not a finite number"),
        (lambda d: d["annotations"][0].update(segmentation={"size": [10, 10], "counts": [0, 5]}),
         r"annotation 3: .*RLE counts do not add up to the 10x10 image"),
        (lambda d: (d["images"][0].update(height=10**9, width=10**9),
                    d["annotations"][0].update(segmentation={"size": [10**9, 10**9],
                                                             "counts": [0, 5]})),
         r"annotation 3: .*image size 1000000000x1000000000 is not 1 to 65536"),
    ],
)  # fmt: skip
def test_malformed_coco_parts_are_named_not_a_traceback(tmp_path, change, message):
    path = _coco(tmp_path / "coco.json")
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=rf"coco\.json: .*{message}"):
        coco_to_yolo(path, ["nsfw"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_label_files_that_are_not_text_are_named(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xff\xfe0 0.5")
    with pytest.raises(ValueError, match=r"a\.txt: not a UTF-8 text file"):
        read_yolo_labels(tmp_path / "a.txt")
    (tmp_path / "c.json").write_bytes(b"\xff{}")
    with pytest.raises(ValueError, match=r"c\.json: not UTF-8 JSON"):
        coco_to_yolo(tmp_path / "c.json", ["nsfw"], tmp_path / "out")


def test_a_polygon_part_under_3_points_is_left_out_with_a_warning(tmp_path, caplog):
    import logging

    path = _coco(tmp_path / "coco.json")
    doc = json.loads(path.read_text())
    doc["annotations"][0]["segmentation"] = [[1, 2, 3, 4], [1, 1, 8, 1, 8, 8]]
    path.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING):
        result = coco_to_yolo(path, ["nsfw"], tmp_path / "out")
    assert result.instances == 1 and "annotation 3: 1 polygon parts under 3 points" in caplog.text
