"""The YOLO bases converted from the detector in the nudenet wheel (real weights, real photo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mosaicflow.yolo.bases import (
    BASE_ARCHITECTURES,
    base_source,
    convert_base,
    nudenet_onnx,
    write_bases,
)

IMGSZ = 320


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photograph (RGB) at the export's 320 px."""
    import cv2
    import skimage.data

    return cv2.resize(skimage.data.astronaut(), (IMGSZ, IMGSZ), interpolation=cv2.INTER_AREA)


def _onnx_output(path: Path, batch: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def test_converted_detector_reproduces_the_onnx_model_on_a_photo(astronaut):
    import torch

    model, report = convert_base(nudenet_onnx(), "detect")
    assert report.fresh == () and report.unused == ()  # every weight found its place
    assert report.architecture == "yolov8n.yaml" and len(report.names) == 18
    batch = np.ascontiguousarray(astronaut.transpose(2, 0, 1)[None], dtype=np.float32) / 255
    expected = _onnx_output(nudenet_onnx(), batch)  # (1, 4 box + 18 classes, anchors)
    with torch.no_grad():
        got = model(torch.from_numpy(batch))
    got = (got[0] if isinstance(got, tuple | list) else got).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got[:, 4:], expected[:, 4:], atol=1e-4)  # class scores
    np.testing.assert_allclose(got[:, :4], expected[:, :4], atol=1e-2)  # boxes, px
    assert expected[:, 4:].max() > 0.5  # a real detection was compared, not only background


def test_segment_base_keeps_the_backbone_and_starts_its_mask_head_fresh():
    import torch

    detect, _ = convert_base(nudenet_onnx(), "detect")
    segment, report = convert_base(nudenet_onnx(), "segment")
    assert report.architecture == BASE_ARCHITECTURES["segment"] == "yolov8n-seg.yaml"
    assert {name.split(".")[2] for name in report.fresh} == {"proto", "cv4"}
    assert report.loaded_convs > 60
    for name, value in detect.state_dict().items():  # every detect weight is in the seg base
        assert torch.equal(segment.state_dict()[name], value), name


def test_bases_are_byte_reproducible_and_carded(tmp_path):
    import json

    from mosaicflow.yolo.checkpoint import load_yolo

    cards = []
    for run in ("a", "b"):
        targets = {task: tmp_path / run / f"{task}.pt" for task in ("detect", "segment")}
        for target in targets.values():
            target.parent.mkdir(parents=True, exist_ok=True)
        write_bases(nudenet_onnx(), targets, tmp_path / run / "model.json", code="c0de")
        cards.append(json.loads((tmp_path / run / "model.json").read_text()))
    for task in ("detect", "segment"):
        assert (tmp_path / "a" / f"{task}.pt").read_bytes() == (
            tmp_path / "b" / f"{task}.pt"
        ).read_bytes()
    assert cards[0]["bases"]["detect"]["sha256"] == cards[1]["bases"]["detect"]["sha256"]
    assert cards[0]["source"]["package"] == "nudenet 3.4.2"
    assert cards[0]["source"]["licence"].startswith("AGPL-3.0")
    assert load_yolo(tmp_path / "a" / "segment.pt").task == "segment"  # restricted unpickler


def test_base_finds_the_face_in_a_real_photo(astronaut, tmp_path, ultralytics_offline):
    from mosaicflow.yolo.bases import save_base
    from mosaicflow.yolo.checkpoint import load_yolo

    model, report = convert_base(nudenet_onnx(), "detect")
    save_base(model, report, tmp_path / "base.pt")
    result = load_yolo(tmp_path / "base.pt").predict(
        astronaut[..., ::-1].copy(), imgsz=IMGSZ, conf=0.5, device="cpu", verbose=False
    )[0]
    faces = [i for i, c in enumerate(result.boxes.cls.tolist()) if "FACE" in report.names[c]]
    assert len(faces) == 1
    x0, y0, x1, y1 = result.boxes.xyxy[faces[0]].tolist()
    # the astronaut's face, at 320 px: about x 110-170, y 50-115
    assert 100 < (x0 + x1) / 2 < 180 and 45 < (y0 + y1) / 2 < 120
    assert 40 < x1 - x0 < 90 and 40 < y1 - y0 < 90


def test_a_file_that_is_not_an_ultralytics_export_is_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )  # fmt: skip
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match=r"other\.onnx: not an ultralytics export"):
        convert_base(path, "detect")
    with pytest.raises(FileNotFoundError, match=r"yolo_base\.onnx: no such file .*missing"):
        base_source(str(tmp_path / "missing.onnx"))
    assert base_source(None) == nudenet_onnx()
