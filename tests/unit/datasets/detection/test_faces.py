"""Face mosaics of the detection dataset: the second class, mosaic_face."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from mosaicflow.config import ConfigError
from mosaicflow.datasets.detection.aggregate import build_detection_dataset
from mosaicflow.datasets.detection.build import FACE_LABEL, build_video_samples, make_sample
from mosaicflow.datasets.detection.faces import face_finder, face_masks, region_share
from mosaicflow.datasets.detection.synth import clip_params
from mosaicflow.formats.coco import annotation_mask
from mosaicflow.formats.masks import read_mask
from mosaicflow.nudenet import Found
from tests.unit.datasets.conftest import mosaic_cfg, texture
from tests.unit.datasets.detection.conftest import detection_cfg

pytestmark = pytest.mark.usefixtures("ultralytics_offline")


def test_face_masks_are_grown_ellipses_outside_the_regions():
    region = np.zeros((96, 128), bool)
    region[20:60, 10:50] = True
    inside = (15.0, 25.0, 45.0, 55.0)  # a face of the region: the region's mosaic covers it
    free = (80.0, 20.0, 100.0, 44.0)
    touching = (40.0, 50.0, 70.0, 80.0)  # partly over the region
    over_free = (85.0, 30.0, 105.0, 54.0)  # overlaps the first free face
    masks = face_masks([inside, free, touching, over_free], [region], (96, 128), grow=1.5)
    assert len(masks) == 3
    first, second, third = masks
    # the free face: an ellipse over its box grown 1.5x (30 x 36 px), centred on it
    rows, cols = np.flatnonzero(first.any(axis=1)), np.flatnonzero(first.any(axis=0))
    assert (cols[0], cols[-1], rows[0], rows[-1]) == pytest.approx((75, 105, 14, 50), abs=1)
    assert first[32, 90] and not first[14, 76]  # its centre, not the box's corner
    assert not (second & region).any() and second[65, 55]  # the region's pixels stay out
    assert not (third & first).any() and third.any()  # no pixel in two faces
    with pytest.raises(ConfigError, match=r"faces\.grow"):
        detection_cfg(faces={"grow": 1.0}).faces.__class__(
            enabled=True, classes=("FACE_FEMALE",), min_score=0.3, grow=0.5,
            size_scale=(1.3, 2.3), min_block_size=5,
        )  # fmt: skip


def test_a_face_is_the_regions_when_their_pixels_cover_it_not_their_box():
    corner = np.zeros((96, 128), bool)  # an L: its box covers the lower right, its pixels do not
    corner[10:90, 10:30], corner[70:90, 10:120] = True, True
    face = (80.0, 20.0, 110.0, 60.0)
    assert region_share(face, corner) == 0.0
    assert len(face_masks([face], [corner], (96, 128), grow=1.0)) == 1
    assert region_share((10.0, 10.0, 30.0, 50.0), corner) == 1.0
    assert region_share((200.0, 10.0, 230.0, 50.0), corner) == 0.0  # outside the frame


def test_a_face_mosaic_never_covers_a_region_even_a_clean_one():
    rng = np.random.default_rng(4)
    image = texture(rng, 96, 128)
    region, face = np.zeros((96, 128), bool), np.zeros((96, 128), bool)
    region[20:70, 10:50], face[25:65, 50:90] = True, True  # side by side, not overlapping
    grown = mosaic_cfg(
        feather={"p": 0.0}, mask_extension={"dilate_p": 1.0, "dilate_radius": [6, 8]}
    )
    cfg = detection_cfg(imgsz=128, degrade=False, random_mosaics=0.0, hard_negatives=0.0,
                        faces={"enabled": True})  # fmt: skip
    faces_params = clip_params(cfg.faces.mosaic(grown), [0, 0, 2], (96, 128))
    for kind in ("clean", "positive"):
        out, labels, record = make_sample(
            image, [((0, 1), region)], kind, cfg, grown, clip_params(grown, [0, 0, 1], (96, 128)),
            np.random.default_rng(0), [(0, face)], faces_params,
        )  # fmt: skip
        assert (labels == FACE_LABEL).sum() > 0.9 * face.sum() and record["faces"]
        assert not (labels[region] == FACE_LABEL).any()
        if kind == "clean":  # the target stays as it was, though the face's mosaic grew
            assert np.array_equal(out[region], image[region])


def test_the_nudenet_base_finds_the_astronauts_face():
    import skimage.data

    cfg = detection_cfg(faces={"enabled": True}).faces
    finder = face_finder(cfg)
    boxes = [f.box for f in finder.found(skimage.data.astronaut())]
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert abs(x0 - 173) < 15 and abs(y0 - 82) < 15 and abs(x1 - 275) < 15 and abs(y1 - 180) < 15
    assert finder.found(skimage.data.coffee()) == []
    with pytest.raises(ValueError, match=r"detection_dataset\.faces\.classes"):
        face_finder(detection_cfg(faces={"classes": ["FACES"]}).faces)


class FixedFaces:
    """A face finder that finds one face in the lower right of every frame."""

    def found(self, frame: np.ndarray) -> list[Found]:
        return [Found("FACE_FEMALE", 0.9, (60.0, 42.0, 84.0, 66.0))]


def _samples(det_source, out: Path, name: str, faces: bool):
    cfg = detection_cfg(frames_per_video=8, imgsz=64, degrade=False, hard_negatives=0.0,
                        faces={"enabled": faces})  # fmt: skip
    build_video_samples(
        cfg, mosaic_cfg(), det_source.video, det_source.index, out / name, out / f"{name}.json",
        video_id=name, seed=7, regions_parquet=det_source.regions,
        faces=FixedFaces() if faces else None,
    )  # fmt: skip
    return json.loads((out / f"{name}.json").read_text())


def test_samples_pixelate_the_faces_coarser_and_keep_the_region_masks(det_source, tmp_path):
    plain = _samples(det_source, tmp_path / "plain", "v-00000001", faces=False)
    faced = _samples(det_source, tmp_path / "faced", "v-00000001", faces=True)
    assert not (tmp_path / "plain" / "v-00000001" / "face_masks").exists()
    assert [s["stem"] for s in plain["samples"]] == [s["stem"] for s in faced["samples"]]
    pixelated = 0
    for sample in faced["samples"]:
        stem = sample["stem"]
        region = read_mask(tmp_path / "faced" / "v-00000001" / "masks" / f"{stem}.png")
        face = read_mask(tmp_path / "faced" / "v-00000001" / "face_masks" / f"{stem}.png")
        before = tmp_path / "plain" / "v-00000001" / "masks" / f"{stem}.png"
        # the same region mosaics (and random blobs) as without faces, byte for byte
        assert (tmp_path / "faced" / "v-00000001" / "masks" / f"{stem}.png").read_bytes() == (
            before.read_bytes()
        )
        assert not (face & region).any()
        # the face (at 64 px: around x 40-56, y 28-44) is pixelated unless a blob covers it
        assert face.any() or region[28:44, 40:56].mean() > 0.5
        pixelated += bool(face.any())
        blocks = [max(p["block_w"], p["block_h"]) for p in sample["faces"]]
        assert blocks and min(blocks) >= 5  # the faces' smallest block
    assert pixelated >= len(faced["samples"]) // 2


def test_the_dataset_has_two_classes_with_faces(det_source, tmp_path):
    names = ["a-00000001", "b-00000002", "c-00000003"]
    for name in names:
        _samples(det_source, tmp_path / "samples", name, faces=True)
    out = tmp_path / "dataset"
    build_detection_dataset(
        detection_cfg(faces={"enabled": True}),
        [tmp_path / "samples" / f"{n}.json" for n in names],
        [tmp_path / "samples" / n for n in names],
        out, roles=dict(zip(names, ["train", "val", "test"], strict=True)), seed=7,
        code="test", config_dir=tmp_path / "yolo",
    )  # fmt: skip
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "mosaic_region", 1: "mosaic_face"}
    assert not list(out.rglob("_by_class"))
    seen = set()
    for split in ("train", "val", "test"):
        coco = json.loads((out / "coco" / f"{split}.json").read_text())
        assert [c["name"] for c in coco["categories"]] == ["mosaic_region", "mosaic_face"]
        for image in coco["images"]:
            stem = Path(image["file_name"]).stem
            for category, folder in ((1, "masks"), (2, "face_masks")):
                mask = read_mask(out / split / folder / f"{stem}.png")
                decoded = np.zeros_like(mask)
                for ann in coco["annotations"]:
                    if ann["image_id"] == image["id"] and ann["category_id"] == category:
                        decoded |= annotation_mask(ann, image["height"], image["width"])
                assert np.array_equal(decoded, mask)
            lines = (out / split / "labels" / f"{stem}.txt").read_text().splitlines()
            seen |= {int(line.split()[0]) for line in lines}
    assert seen == {0, 1}
