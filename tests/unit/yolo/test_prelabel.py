"""Model-assisted labelling: least confident frames and labelme documents of predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mosaicflow.formats.masks import rasterize
from mosaicflow.yolo.prelabel import least_confident, mask_polygons, result_document
from tests.unit.yolo.fakes import disc, fake_result


def table(rows):
    return pd.DataFrame(rows, columns=["frame", "instance", "score"])


def test_least_confident_frames_lowest_best_score_first():
    tables = {
        "b": table([(0, 0, 0.9), (0, 1, 0.3), (1, -1, 0.0), (2, 0, 0.35)]),
        "a": table([(5, 0, 0.35), (6, 0, 0.8)]),
    }
    chosen = least_confident(tables, 3)
    assert list(zip(chosen["video"], chosen["frame"], strict=True)) == [
        ("a", 5),
        ("b", 2),
        ("a", 6),
    ]
    assert list(chosen["instances"]) == [1, 1, 1]
    assert len(least_confident({"x": table([(0, -1, 0.0)])}, 5)) == 0


def test_mask_polygons_rasterise_back_to_the_mask():
    mask = disc(32, 32, 16, 16, 10) & ~disc(32, 32, 16, 16, 4)  # a ring: hole bridged in
    (poly,) = mask_polygons(mask)
    assert np.array_equal(rasterize(poly, 32, 32), mask)


def test_result_document_has_one_shape_per_component_with_scores():
    two_parts = disc(40, 60, 10, 10, 5) | disc(40, 60, 30, 50, 5)
    result = fake_result([two_parts, disc(40, 60, 20, 30, 4)], [0.8, 0.5])
    doc = result_document(result, {0: "nsfw"}, "x.jpg", 60, 40)
    assert [s["label"] for s in doc["shapes"]] == ["nsfw"] * 3
    assert [s["description"] for s in doc["shapes"]] == ["score=0.800"] * 2 + ["score=0.500"]
    assert (doc["imageWidth"], doc["imageHeight"], doc["imagePath"]) == (60, 40, "x.jpg")
    empty = result_document(fake_result([], []), {0: "nsfw"}, "y.jpg", 60, 40)
    assert empty["shapes"] == []


def test_an_image_that_cannot_be_written_is_an_error_naming_it(tmp_path):
    from mosaicflow.yolo.prelabel import _write

    class Model:  # predicts nothing, like a segmenter on an empty frame
        def __init__(self):
            self.names = {0: "nsfw"}

        def predict(self, images, **kwargs):
            return [fake_result([], []) for _ in images]

    tall = np.zeros((70_000, 2, 3), np.uint8)  # JPEG's limit is 65,500 pixels a side
    with pytest.raises(OSError, match=r"tall\.jpg: JPEG encoding failed"):
        _write(Model(), [("tall", tall)], tmp_path, {})
    assert not (tmp_path / "tall.jpg").exists() and not (tmp_path / "tall.json").exists()


def test_two_images_of_one_stem_are_refused_before_the_model_loads(tmp_path):
    from mosaicflow.yolo.prelabel import prelabel_images

    (tmp_path / "in").mkdir()
    for name in ("a.png", "a.jpg"):
        (tmp_path / "in" / name).write_bytes(b"x")
    with pytest.raises(ValueError, match=r"a\.png: same stem as .*a\.jpg"):
        prelabel_images(tmp_path / "m.pt", tmp_path / "in", tmp_path / "out", conf=0.2, imgsz=64)
    assert not (tmp_path / "out").exists()


def test_a_detection_result_gives_box_polygons():
    import torch

    from tests.unit.yolo.fakes import FakeBoxes, FakeResult

    boxes = FakeBoxes(
        torch.tensor([[10.0, 5.0, 30.0, 25.0]]), torch.tensor([0.8]), torch.tensor([1.0]), None
    )
    doc = result_document(FakeResult(boxes, None), {0: "text", 1: "logo"}, "f.jpg", 64, 48)
    (shape,) = doc["shapes"]
    assert shape["label"] == "logo" and shape["description"] == "score=0.800"
    assert shape["points"] == [[10.0, 5.0], [30.0, 5.0], [30.0, 25.0], [10.0, 25.0]]


def test_a_rerun_keeps_the_labelme_files_corrected_since(tmp_path, monkeypatch):
    import cv2

    from mosaicflow import io
    from mosaicflow.yolo import prelabel

    class Model:  # finds one disc on every image
        def __init__(self):
            self.names = {0: "nsfw"}

        def predict(self, images, **kwargs):
            return [fake_result([disc(40, 60, 20, 30, 8)], [0.9]) for _ in images]

    monkeypatch.setattr(prelabel, "_model", lambda *a, **k: (Model(), "cpu"))
    (tmp_path / "in").mkdir()
    for name in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / "in" / f"{name}.png"), np.full((40, 60, 3), 90, np.uint8))
    out = tmp_path / "out"

    def run():
        return prelabel.prelabel_images(tmp_path / "m.pt", tmp_path / "in", out, conf=0.2,
                                        imgsz=64)  # fmt: skip

    first = run()
    assert (first.images, first.shapes, first.kept) == (3, 3, [])
    corrected = io.read_json(out / "a.json") | {"shapes": []}  # the user removed a polygon
    io.write_json(out / "a.json", corrected)
    (out / "d.json").write_text("{}")  # a file of the user's own

    again = run()
    assert (again.images, again.kept) == (2, ["a.json"])
    assert io.read_json(out / "a.json") == corrected and (out / "d.json").read_text() == "{}"
    assert len(io.read_json(out / "b.json")["shapes"]) == 1
    assert run().kept == ["a.json"]  # and on every later run


def test_a_run_stopped_early_leaves_a_record_and_a_folder_without_one_is_kept(
    tmp_path, monkeypatch, caplog
):
    import logging

    import cv2

    from mosaicflow.yolo import prelabel

    calls = []

    class Model:  # the second batch of 16 images fails (out of memory, Ctrl-C)
        def __init__(self, fail: bool):
            self.names, self.fail = {0: "nsfw"}, fail

        def predict(self, images, **kwargs):
            calls.append(len(images))
            if self.fail and len(calls) == 2:
                raise RuntimeError("out of memory")
            return [fake_result([disc(40, 60, 20, 30, 8)], [0.9]) for _ in images]

    (tmp_path / "in").mkdir()
    for k in range(20):
        cv2.imwrite(str(tmp_path / "in" / f"f{k:02d}.png"), np.full((40, 60, 3), k, np.uint8))
    out = tmp_path / "out"

    def run(fail: bool):
        monkeypatch.setattr(prelabel, "_model", lambda *a, **k: (Model(fail), "cpu"))
        return prelabel.prelabel_images(tmp_path / "m.pt", tmp_path / "in", out, conf=0.2,
                                        imgsz=64)  # fmt: skip

    with pytest.raises(RuntimeError, match="out of memory"):
        run(fail=True)
    assert run(fail=False).kept == []  # the first 16 were recorded: predicted again
    (out / prelabel.WRITTEN).unlink()  # a folder of an earlier version: no record
    with caplog.at_level(logging.WARNING):
        assert len(run(fail=False).kept) == 20
    assert "no record of writing" in caplog.text


def test_a_run_that_fails_on_its_first_batch_leaves_no_folder(tmp_path, monkeypatch):
    import cv2

    from mosaicflow.yolo import prelabel

    class Model:  # the first batch fails (out of memory, Ctrl-C)
        def __init__(self):
            self.names = {0: "nsfw"}

        def predict(self, images, **kwargs):
            raise RuntimeError("out of memory")

    monkeypatch.setattr(prelabel, "_model", lambda *a, **k: (Model(), "cpu"))
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), np.full((40, 60, 3), 90, np.uint8))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="out of memory"):
        prelabel.prelabel_images(tmp_path / "m.pt", tmp_path / "in", out, conf=0.2, imgsz=64)
    assert not out.exists()
