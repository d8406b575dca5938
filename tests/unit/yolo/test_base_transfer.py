"""From the YOLO base, a segmenter fine-tuned on a few dozen labelled frames finds that kind of
region on people it has never seen (scikit-image's LFW faces pasted on real photographs). This
is what a new user with a few labelme frames relies on. Whole real photographs are a harder
transfer than these 40 grey composites carry, and one photograph is one item: real footage is
measured on many frames of held-out sources in ``tests/workflow/test_real_footage.py``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.workflow  # trains a model (about a minute on 2 cores)

SIZE = 192
EPOCHS = 12


def _photo(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def _composite(rng, background, faces, count):
    """A crop of a background photo with ``count`` LFW faces pasted on it; their boxes."""
    height, width = background.shape[:2]
    y, x = rng.integers(0, height - SIZE), rng.integers(0, width - SIZE)
    image = background[y : y + SIZE, x : x + SIZE].copy()
    boxes = []
    for face in rng.choice(len(faces), size=count, replace=False):
        side = int(rng.integers(48, 80))
        patch = cv2.resize((faces[face] * 255).astype(np.uint8), (side, side))
        for _ in range(20):  # a place that overlaps no earlier face
            x0, y0 = (int(v) for v in rng.integers(0, SIZE - side, size=2))
            box = (x0, y0, x0 + side, y0 + side)
            if all(_iou(box, other) == 0 for other in boxes):
                break
        image[box[1] : box[3], box[0] : box[2]] = patch[..., None]
        boxes.append(box)
    return image, boxes


def _iou(a, b) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def _write_split(root: Path, split: str, samples) -> None:
    (root / split / "images").mkdir(parents=True)
    (root / split / "labels").mkdir(parents=True)
    for i, (image, boxes) in enumerate(samples):
        cv2.imwrite(str(root / split / "images" / f"{i:03d}.png"), image[..., ::-1])
        lines = []
        for x0, y0, x1, y1 in boxes:
            corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
            lines.append("0 " + " ".join(f"{x / SIZE:.5f} {y / SIZE:.5f}" for x, y in corners))
        (root / split / "labels" / f"{i:03d}.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def face_segmenter(tmp_path_factory, ultralytics_offline):
    """A segmenter fine-tuned from the base on 40 frames with faces of 30 LFW people."""
    import skimage.data

    from mosaicflow.yolo.bases import convert_base, nudenet_onnx, save_base
    from mosaicflow.yolo.dataset import read_dataset
    from mosaicflow.yolo.fit import train_yolo
    from mosaicflow.yolo.offline import prepare_ultralytics
    from mosaicflow.yolo.spec import TrainSpec

    root = tmp_path_factory.mktemp("faces")
    faces = skimage.data.lfw_subset()[:100]  # the first 100 of the subset are faces
    backgrounds = [_photo(n) for n in ("coffee", "rocket", "chelsea", "grass", "brick")]
    rng = np.random.default_rng(7)
    train_faces, held_out = faces[:30], faces[30:]
    samples = [_composite(rng, backgrounds[i % 5], train_faces, 1 + i % 2) for i in range(48)]
    data = root / "data"
    _write_split(data, "train", samples[:40])
    _write_split(data, "val", samples[40:])
    (data / "data.yaml").write_text(
        "path: .\ntrain: train/images\nval: val/images\nnames: [face]\n"
    )
    model, report = convert_base(nudenet_onnx(), "segment")
    base = save_base(model, report, root / "base.pt")
    prepare_ultralytics(root / "yolo_config", 2)
    spec = TrainSpec(
        task="segment", model=None, pretrained=str(base), weights=None, imgsz=SIZE,
        epochs=EPOCHS, time_minutes=None, optimizer="AdamW", lr0=0.002, warmup_bias_lr=0.0,
        batch=8, nbs=None, warmup_epochs=1, val_during_training=False, close_mosaic=2,
        single_cls=False,
    )  # fmt: skip
    result = train_yolo(spec, read_dataset(data), root / "work", device="cpu", threads=2, seed=1)
    test = [_composite(rng, _photo("astronaut"), held_out, 2) for _ in range(10)]
    return result.weights, test


def _found(result, box) -> bool:
    return any(_iou(tuple(found), box) > 0.3 for found in result.boxes.xyxy.tolist())


def test_fine_tuned_segmenter_finds_faces_of_unseen_people(face_segmenter):
    from ultralytics import YOLO

    weights, test = face_segmenter
    model = YOLO(str(weights))
    boxes = [box for _, faces in test for box in faces]
    found = 0
    for image, faces in test:
        result = model.predict(image[..., ::-1].copy(), imgsz=SIZE, conf=0.25, verbose=False)[0]
        assert result.masks is not None or not faces
        found += sum(_found(result, box) for box in faces)
    assert found >= 0.8 * len(boxes), (found, len(boxes))


def test_the_contrast_check_reads_the_segmenter_on_plain_and_lowered_frames(
    face_segmenter, tmp_path
):
    from ultralytics import YOLO

    from mosaicflow.curate.contrast_check import (
        SegmenterDetections,
        lower_contrast,
        region_confidence,
    )

    weights, test = face_segmenter
    segmenter = SegmenterDetections(
        weights, imgsz=SIZE, iou=0.7, device="cpu", threads=2, config_dir=tmp_path / "cfg"
    )
    images = [image for image, _ in test]
    plain = segmenter(images)
    lowered = segmenter([lower_contrast(image, 0.7, 20) for image in images])
    assert len(plain) == len(lowered) == len(images)
    # the same scores as ultralytics' own call on the BGR frame, down to the reporting threshold
    direct = YOLO(str(weights)).predict(
        images[0][..., ::-1].copy(), imgsz=SIZE, conf=0.01, iou=0.7, verbose=False
    )[0]
    assert np.allclose(np.sort(plain[0].scores), np.sort(direct.boxes.conf.numpy()), atol=1e-5)
    faces = [(i, box) for i, (_, boxes) in enumerate(test) for box in boxes]
    seen = [region_confidence(box, plain[i]) for i, box in faces]
    assert sum(score >= 0.25 for score in seen) >= 0.8 * len(faces), seen
    faded = [region_confidence(box, lowered[i]) for i, box in faces]
    assert all(0.0 <= score <= 1.0 for score in faded)
    assert region_confidence((0, 0, 4, 4), plain[0]) == 0.0
