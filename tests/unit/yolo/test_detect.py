"""``mosaicflow detect`` on a damaged video: what could be decoded, and a warning."""

from __future__ import annotations

import logging
import subprocess

import pytest

from mosaicflow.yolo import detect
from tests.unit.video.clips import NEEDS_FFMPEG
from tests.unit.yolo.fakes import fake_result


@NEEDS_FFMPEG
def test_a_truncated_video_is_detected_as_far_as_it_decodes_with_a_warning(
    tmp_path, monkeypatch, caplog
):
    whole = tmp_path / "whole.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=12:duration=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart", str(whole)],
        check=True,
    )  # fmt: skip
    cut = tmp_path / "cut.mp4"  # the index announces 24 frames, half the data is there
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    class Model:
        def predict(self, images, **kwargs):
            return [fake_result([], []) for _ in images]

    monkeypatch.setattr(detect, "load_detector", lambda *args, **kwargs: Model())
    with caplog.at_level(logging.WARNING):
        result = detect.detect_mosaics(tmp_path / "m.pt", cut, tmp_path / "out")
    assert 0 < result.frames < 24
    assert f"{result.frames} of the 24 frames the file announces were decoded" in caplog.text
    caplog.clear()
    assert detect.detect_mosaics(tmp_path / "m.pt", whole, tmp_path / "out").frames == 24
    assert "announces" not in caplog.text


def test_a_malformed_model_card_is_named_when_the_threshold_is_read(tmp_path):
    from mosaicflow.yolo.cli import detection_threshold

    weights = tmp_path / "best.pt"
    assert detection_threshold(weights, None) == (0.25, "default")  # no card
    for card in ("[1]", '{"threshold": {"conf": "high"}}', '{"threshold": 3}'):
        (tmp_path / "model.json").write_text(card)
        with pytest.raises(ValueError, match=r"model\.json: not a model card .* give --conf"):
            detection_threshold(weights, None)
        assert detection_threshold(weights, 0.4) == (0.4, "given")
    (tmp_path / "model.json").write_text('{"threshold": {"conf": 0.31}}')
    assert detection_threshold(weights, None)[0] == 0.31


@NEEDS_FFMPEG
def test_a_run_that_fails_before_its_first_output_leaves_no_folder(tmp_path, monkeypatch):
    video = tmp_path / "v.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=12:duration=1",
         "-c:v", "libx264", "-preset", "ultrafast", str(video)],
        check=True,
    )  # fmt: skip

    def load(model_path, origin, *, config_dir, **kwargs):
        config_dir.mkdir(parents=True)  # ultralytics' settings, written before the weights load
        raise ValueError(f"{model_path}: not a YOLO segmentation model")

    monkeypatch.setattr(detect, "load_detector", load)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="not a YOLO segmentation model"):
        detect.detect_mosaics(tmp_path / "m.pt", video, out)
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"not a model", b"\x08\x07" + bytes(200)])
def test_an_unreadable_onnx_model_is_refused_naming_it(tmp_path, content):
    from mosaicflow.yolo.adapter import ModelFileError

    model = tmp_path / "best.onnx"
    model.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"best\.onnx \(--model\): not a readable ONNX model"):
        detect.load_detector(model, "--model", config_dir=tmp_path / "cfg")
