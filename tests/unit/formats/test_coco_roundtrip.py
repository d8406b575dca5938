"""masks -> COCO (checked with pycocotools) -> YOLO -> masks, and labelme -> YOLO -> labelme."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaicflow.formats.coco import coco_to_yolo, load_coco, masks_to_coco
from mosaicflow.formats.dataset import labelme_to_yolo
from mosaicflow.formats.labelme import read_labelme
from mosaicflow.formats.masks import (
    clip_to_image,
    iou,
    mask_to_instances,
    rasterize,
    rasterize_many,
    write_mask,
)
from mosaicflow.formats.yolo import read_yolo_labels, yolo_to_labelme

from .helpers import labelme_shape, make_labelme, write_image

SETTINGS = settings(
    max_examples=int(os.environ.get("MOSAICFLOW_HYPOTHESIS_EXAMPLES", 15)),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SIZE = 256


@st.composite
def masks(draw, size=SIZE):
    """Random binary masks: blobs, holes, thin lines, single pixels, shapes cut by the border."""
    mask = np.zeros((size, size), np.uint8)
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["ellipse", "ring", "line", "pixel", "poly"]))
        x, y = draw(st.integers(-20, size + 20)), draw(st.integers(-20, size + 20))
        if kind == "ellipse":
            axes = (draw(st.integers(1, 60)), draw(st.integers(1, 60)))
            cv2.ellipse(mask, (x, y), axes, draw(st.integers(0, 180)), 0, 360, 255, -1)
        elif kind == "ring":
            r = draw(st.integers(6, 60))
            cv2.circle(mask, (x, y), r, 255, -1)
            cv2.circle(mask, (x, y), draw(st.integers(1, r - 3)), 0, -1)
        elif kind == "line":
            end = (draw(st.integers(0, size)), draw(st.integers(0, size)))
            cv2.line(mask, (x, y), end, 255, draw(st.integers(1, 2)))
        elif kind == "pixel":
            mask[min(max(y, 0), size - 1), min(max(x, 0), size - 1)] = 255
        else:
            pts = np.array(
                [
                    [draw(st.integers(-10, size + 10)), draw(st.integers(-10, size + 10))]
                    for _ in range(draw(st.integers(3, 7)))
                ],
                np.int32,
            )
            cv2.fillPoly(mask, [pts], 255)
    return mask > 0


def _coco_round_trip(tmp_path, mask, name="m"):
    folder = tmp_path / "masks"
    folder.mkdir(exist_ok=True)
    write_mask(folder / f"{name}.png", mask)
    out = tmp_path / "coco.json"
    result = masks_to_coco(folder, ["nsfw"], out)
    return out, result


@SETTINGS
@given(mask=masks())
def test_masks_to_coco_validated_by_pycocotools(tmp_path_factory, mask):
    tmp_path = tmp_path_factory.mktemp("coco")
    out, result = _coco_round_trip(tmp_path, mask)
    coco = load_coco(out)
    instances = mask_to_instances(mask)
    ann_ids = coco.getAnnIds(imgIds=[1])
    assert len(ann_ids) == len(instances) == result.annotations
    union = np.zeros_like(mask)
    for ann, inst in zip(coco.loadAnns(ann_ids), instances, strict=True):
        decoded = coco.annToMask(ann).astype(bool)
        # the source instance: the 8-connected component of the mask under the decoded one
        assert iou(decoded, _component(mask, decoded)) >= 0.98
        assert ann["area"] == int(decoded.sum()) and ann["iscrowd"] == 0
        assert ann["bbox"] == [int(v) for v in inst.bbox]
        assert isinstance(ann["segmentation"], dict) == bool(inst.holes)
        union |= decoded
    assert (union == mask).all()

    # COCO -> YOLO -> masks keeps the geometry (IoU >= 0.95 at 256 px), holes included
    yolo = coco_to_yolo(out, ["nsfw"], tmp_path / "yolo")
    labels = read_yolo_labels(tmp_path / "yolo" / "labels" / "m.txt", 1)
    assert yolo.instances == len(labels) == len(instances)
    back = np.zeros_like(mask)
    for label in labels:
        back |= rasterize(label.points * SIZE, SIZE, SIZE)
    assert iou(back, mask) >= 0.95


def _component(mask, decoded):
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    ids, hits = np.unique(labels[decoded], return_counts=True)
    best = ids[np.argmax(hits)]
    return labels == best


def test_coco_file_fields_and_holes(tmp_path):
    mask = np.zeros((40, 50), bool)
    mask[5:25, 5:25] = True
    mask[10:15, 10:15] = False  # a hole
    mask[30:32, 40:50] = True  # a thin bar on the right border
    out, result = _coco_round_trip(tmp_path, mask)
    assert (result.images, result.annotations) == (1, 2)
    doc = json.loads(out.read_text())
    assert doc["categories"] == [{"id": 1, "name": "nsfw", "supercategory": "region"}]
    assert doc["images"] == [{"id": 1, "file_name": "m.png", "height": 40, "width": 50}]
    ring, bar = doc["annotations"]
    assert ring["area"] == 400 - 25 and ring["bbox"] == [5, 5, 20, 20]
    assert isinstance(ring["segmentation"], dict)  # RLE keeps the hole
    assert bar["bbox"] == [40, 30, 10, 2] and isinstance(bar["segmentation"], list)
    coco = load_coco(out)
    assert (
        coco.annToMask(coco.loadAnns([ring["id"]])[0]).astype(bool)
        == (mask & (np.arange(40)[:, None] < 25))
    ).all()


def test_coco_to_yolo_remaps_classes_clips_and_skips_crowd(tmp_path):
    coco = {
        "images": [
            {"id": 7, "file_name": "a.jpg", "height": 10, "width": 20},
            {"id": 9, "file_name": "b.jpg", "height": 10, "width": 20},
        ],
        "categories": [{"id": 91, "name": "logo"}, {"id": 3, "name": "nsfw"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 91,
                "iscrowd": 0,
                "segmentation": [[-5, -5, 25, 0, 10, 15]],
                "area": 1,
                "bbox": [0, 0, 1, 1],
            },
            {
                "id": 2,
                "image_id": 7,
                "category_id": 3,
                "iscrowd": 0,
                "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4], [10, 0, 14, 0, 14, 4, 10, 4]],
                "area": 1,
                "bbox": [0, 0, 1, 1],
            },
            {
                "id": 3,
                "image_id": 7,
                "category_id": 3,
                "iscrowd": 1,
                "segmentation": [[0, 0, 4, 0, 4, 4]],
                "area": 1,
                "bbox": [0, 0, 1, 1],
            },
        ],
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(coco))
    result = coco_to_yolo(path, ["nsfw", "logo"], tmp_path / "out")
    assert (result.images, result.instances, result.crowd_skipped) == (2, 3, 1)
    lines = (tmp_path / "out" / "labels" / "a.txt").read_text().splitlines()
    # category 91 'logo' -> class 1; the triangle's part inside the image (not its vertices
    # moved into it, which would give the triangle (0, 0), (1, 0), (0.5, 1))
    assert lines[0] == "1 0.3125 1 0 0.166667 0 0 1 0 1 0.5 0.75 1"
    assert [ln.split()[0] for ln in lines[1:]] == ["0", "0"]  # two parts -> two polygons
    assert (tmp_path / "out" / "labels" / "b.txt").read_text() == ""
    det = coco_to_yolo(path, ["nsfw", "logo"], tmp_path / "det", task="detect")
    assert det.instances == 3
    first = (tmp_path / "det" / "labels" / "a.txt").read_text().splitlines()[0]
    assert first == "1 0.5 0.5 1 1"
    with pytest.raises(ValueError, match=r"c\.json: categories \['logo'\] are not in the names"):
        coco_to_yolo(path, ["nsfw"], tmp_path / "x")
    assert not (tmp_path / "x").exists()


@st.composite
def polygons(draw, size=SIZE):
    """Random simple polygons (star-shaped around a centre), some thin, tiny or past the border."""
    cx, cy = draw(st.floats(-10, size + 10)), draw(st.floats(-10, size + 10))
    n = draw(st.integers(3, 12))
    angles = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi), min_size=n, max_size=n))))
    radii = np.array(draw(st.lists(st.floats(2, 90), min_size=n, max_size=n)))
    squash = draw(st.sampled_from([1.0, 0.05, 0.02]))  # thin shapes
    pts = np.stack([cx + radii * np.cos(angles), cy + squash * radii * np.sin(angles)], 1)
    return pts


def polygon_area(points: np.ndarray) -> float:
    """Area of a simple polygon in px² (shoelace)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@SETTINGS
@given(shapes=st.lists(polygons(), min_size=1, max_size=4))
def test_labelme_to_yolo_to_labelme_keeps_geometry(tmp_path_factory, shapes):
    tmp_path = tmp_path_factory.mktemp("lm")
    inside = [
        p
        for p in shapes
        if len(clip_to_image(p, SIZE, SIZE))
        and rasterize(clip_to_image(p, SIZE, SIZE), SIZE, SIZE).sum() >= 4
        and len(np.unique(np.round(clip_to_image(p, SIZE, SIZE) / SIZE, 6), axis=0)) >= 3
    ]
    src = make_labelme(
        tmp_path / "src",
        "f-000001",
        [labelme_shape("nsfw", p.tolist()) for p in inside],
        size=(SIZE, SIZE),
    )
    counts = labelme_to_yolo(src.parent, ["nsfw"], tmp_path / "yolo")
    assert counts["instances"] == len(inside)
    yolo_to_labelme(
        tmp_path / "yolo" / "images", tmp_path / "yolo" / "labels", ["nsfw"], tmp_path / "back"
    )
    frame = read_labelme(tmp_path / "back" / "f-000001.json", ["nsfw"])
    assert len(frame.shapes) == len(inside)
    for original, shape in zip(inside, frame.shapes, strict=True):
        clipped = clip_to_image(original, SIZE, SIZE)
        # vertices come back within 1e-3 px (YOLO keeps 6 decimals: 2.6e-4 px at 256 px)
        dist = np.linalg.norm(shape.polygon[:, None] - clipped[None], axis=-1)
        assert dist.min(1).max() < 1e-3 and dist.min(0).max() < 1e-3
        a = rasterize(clipped, SIZE, SIZE)
        if a.sum() >= 20:  # below that one pixel centre on an edge moves IoU by > 5%
            assert iou(a, rasterize(shape.polygon, SIZE, SIZE)) >= 0.95
    total = rasterize_many([clip_to_image(p, SIZE, SIZE) for p in inside], SIZE, SIZE)
    # Slivers along a row of pixel centres (an edge at y = 0.5) rasterise to many more pixels
    # than their area; a 1e-4 px vertex shift then flips a whole row: require the real area too.
    area = sum(polygon_area(clip_to_image(p, SIZE, SIZE)) for p in inside)
    if total.sum() >= 20 and area >= 20:
        assert iou(total, rasterize_many([s.polygon for s in frame.shapes], SIZE, SIZE)) >= 0.95


def test_yolo_to_labelme_from_predictions(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    write_image(images / "p.png", 40, 20)
    write_image(images / "q.png", 40, 20)
    labels.mkdir()
    (labels / "p.txt").write_text("1 0.25 0.5 0.5 0.5\n0 0 0 0.5 0 0.5 1\n")
    result = yolo_to_labelme(
        images, labels, ["a", "b"], tmp_path / "lm", embed_images=True, empty_flag="sfw"
    )
    assert (result.images, result.shapes) == (2, 2)
    doc = json.loads((tmp_path / "lm" / "p.json").read_text())
    assert doc["shapes"][0]["label"] == "b"
    assert doc["shapes"][0]["points"] == [[0, 5], [20, 5], [20, 15], [0, 15]]
    assert doc["shapes"][1]["points"] == [[0, 0], [20, 0], [20, 20]]
    assert doc["imageData"] and doc["imagePath"] == "p.png"
    assert json.loads((tmp_path / "lm" / "q.json").read_text())["flags"] == {"sfw": True}
    (labels / "p.txt").write_text("5 0.25 0.5 0.5 0.5\n")
    with pytest.raises(ValueError, match=r"p\.txt:1: invalid class id 5"):
        yolo_to_labelme(images, labels, ["a", "b"], tmp_path / "lm2")
    (labels / "p.txt").write_text("0 0.2 0.5 1.7 0.5 0.3 0.1\n")
    with pytest.raises(ValueError, match=r"p\.txt:1: coordinates outside"):
        yolo_to_labelme(images, labels, ["a", "b"], tmp_path / "lm2")
    assert not (tmp_path / "lm2").exists()


def test_yolo_to_labelme_refuses_a_missing_labels_folder_and_two_images_of_one_stem(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    write_image(images / "p.png", 40, 20)
    with pytest.raises(ValueError, match=r"labls: labels folder not found"):
        yolo_to_labelme(images, tmp_path / "labls", ["a"], tmp_path / "lm")
    labels.mkdir()
    write_image(images / "p.jpg", 40, 20)
    with pytest.raises(ValueError, match=r"p\.png: same stem as .*p\.jpg"):
        yolo_to_labelme(images, labels, ["a"], tmp_path / "lm")
    assert not (tmp_path / "lm").exists()


def test_masks_to_coco_takes_upper_case_png_and_refuses_to_guess_or_replace(tmp_path):
    folder, images = tmp_path / "masks", tmp_path / "images"
    folder.mkdir()
    square = np.zeros((SIZE, SIZE), bool)
    square[10:40, 10:40] = True
    write_mask(folder / "a.png", square)
    write_mask(folder / "b.PNG", square)
    out = tmp_path / "coco.json"
    assert masks_to_coco(folder, ["nsfw"], out).images == 2  # b.PNG too
    assert masks_to_coco(folder, ["nsfw"], out).images == 2  # its own earlier output: replaced

    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    with pytest.raises(ValueError, match=r"notes\.json: exists and is not a COCO file"):
        masks_to_coco(folder, ["nsfw"], notes)
    assert notes.read_text() == '{"mine": true}'

    for name in ("a.jpg", "a.png", "b.png", "b.v2.png"):  # b.v2 is another image's name
        write_image(images / name, SIZE, SIZE)
    with pytest.raises(ValueError, match=r"images \['a\.jpg', 'a\.png'\] all match the mask 'a'"):
        masks_to_coco(folder, ["nsfw"], tmp_path / "c.json", image_dir=images)
    (images / "a.png").unlink()
    assert masks_to_coco(folder, ["nsfw"], tmp_path / "c.json", image_dir=images).images == 2
