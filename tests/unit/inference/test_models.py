"""The default models load from files (untrained YOLO-seg, random demo-size BasicVSR++) and run,
and ``mosaicflow restore`` / ``mosaicflow metrics-diff`` through ``mosaicflow.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mosaicflow.cli import main
from mosaicflow.inference.detector import YoloDetector
from mosaicflow.inference.protocols import Detector, Restorer
from mosaicflow.inference.restorer import BasicVSRRestorer
from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.config import restoration_config

from .conftest import stream_info, textured_frames, write_video

CROP = 32


@pytest.fixture(scope="module")
def yolo_seg(tmp_path_factory, ultralytics_offline) -> Path:
    """An untrained YOLO11n-seg built from its yaml and saved like a trained model."""
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("detector") / "detector.pt"
    torch.manual_seed(0)
    YOLO("yolo11n-seg.yaml", task="segment").save(path)
    return path


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> tuple[Path, Path]:
    """A random-weight demo-size generator saved as a plain state dict, with its model card."""
    cfg = restoration_config("demo")
    folder = tmp_path_factory.mktemp("restorer")
    torch.manual_seed(0)
    network = BasicVSRPlusPlusNet(cfg.mid_channels, cfg.num_blocks, hr_skip=cfg.hr_skip)
    torch.save(network.state_dict(), folder / "generator.pth")
    card = {
        "weights": "generator.pth",
        "mid_channels": cfg.mid_channels,
        "num_blocks": cfg.num_blocks,
        "hr_skip": cfg.hr_skip,
        "input_size": CROP,
        "num_frames": 5,
    }
    (folder / "model.json").write_text(json.dumps(card))
    return folder / "generator.pth", folder / "model.json"


def test_yolo_seg_model_loads_through_the_default_detector(yolo_seg):
    detector = YoloDetector(yolo_seg, device="cpu", imgsz=64, threads=1)
    assert isinstance(detector, Detector)
    frames = [f for f in textured_frames(2)]
    found = detector.detect(frames)
    assert len(found) == 2
    for detections in found:
        assert detections.masks.shape[1:] == (48, 64) and detections.masks.dtype == bool
        assert len(detections.scores) == len(detections.masks)


def test_demo_generator_loads_through_the_default_restorer_and_runs(generator):
    weights, _card = generator
    restorer = BasicVSRRestorer(weights, device="cpu", frames_per_call=2)  # card found beside
    assert isinstance(restorer, Restorer)
    cfg = restoration_config("demo")
    shape = restorer.shape
    assert (shape.mid_channels, shape.num_blocks, shape.hr_skip) == (
        cfg.mid_channels,
        cfg.num_blocks,
        cfg.hr_skip,
    )
    assert restorer.input_size == CROP
    clip = np.random.default_rng(0).integers(0, 256, (3, CROP, CROP, 3), dtype=np.uint8)
    out = restorer.restore(clip)
    assert out.shape == clip.shape and out.dtype == np.uint8


def test_generator_size_is_read_from_the_weights_without_a_card(generator, tmp_path):
    weights, _ = generator
    alone = tmp_path / "alone.pth"
    alone.write_bytes(weights.read_bytes())
    restorer = BasicVSRRestorer(alone, device="cpu")
    assert restorer.input_size == 256 and restorer.shape.num_blocks == 2
    assert restorer.shape.hr_skip  # from the hr_skip.* keys


def test_a_card_that_does_not_match_the_weights_is_refused(generator, tmp_path):
    weights, _ = generator
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"mid_channels": 64, "num_blocks": 15, "input_size": 256}))
    with pytest.raises(ValueError, match=r"card\.json"):
        BasicVSRRestorer(weights, card=card, device="cpu")


def test_a_card_that_denies_the_full_resolution_branch_is_refused(generator, tmp_path):
    weights, _ = generator
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"mid_channels": 16, "num_blocks": 2, "hr_skip": False}))
    with pytest.raises(ValueError, match=r"card\.json: describes hr_skip=False .* holds"):
        BasicVSRRestorer(weights, card=card, device="cpu")


def test_restore_command_runs_with_real_models(yolo_seg, generator, tmp_path):
    weights, card = generator
    source = write_video(tmp_path / "in.mp4", textured_frames(6), audio=True)
    out, summary = tmp_path / "out.mp4", tmp_path / "summary.json"
    code = main(
        [
            "restore",
            str(source),
            str(out),
            "--detector",
            str(yolo_seg),
            "--restorer",
            str(weights),
            "--restorer-card",
            str(card),
            "--device",
            "cpu",
            "--imgsz",
            "64",
            "--threads",
            "1",
            "--preset",
            "ultrafast",
            "--no-progress",
            "--summary",
            str(summary),
            "--masks-out",
            str(tmp_path / "masks.parquet"),
        ]
    )
    assert code == 0
    assert stream_info(out)["frames"] == 6 and stream_info(out)["audio_packets"] > 0
    assert json.loads(summary.read_text())["frames"] == 6
    assert (tmp_path / "masks.parquet").is_file()


def _run_expecting_error(capsys, argv: list[str], named: Path) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(named) in err, err
    return err


def test_an_undecodable_video_exits_2_naming_it(tmp_path, capsys, generator):
    weights, _ = generator
    bad = tmp_path / "broken video.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    _run_expecting_error(
        capsys,
        [
            "restore",
            str(bad),
            str(tmp_path / "o.mp4"),
            "--detector",
            "d.pt",
            "--restorer",
            str(weights),
        ],
        bad,
    )
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("content", [b"this is not a model", None])
def test_a_detector_that_is_not_a_yolo_model_exits_2_naming_it(
    tmp_path, capsys, generator, content, ultralytics_offline
):
    weights, _card = generator
    source = write_video(tmp_path / "in.mp4", textured_frames(2), audio=False)
    detector = tmp_path / "det.pt"
    if content is None:  # a real torch file, but a state dict rather than a YOLO checkpoint
        torch.save({"weight": torch.zeros(3)}, detector)
    else:
        detector.write_bytes(content)
    err = _run_expecting_error(
        capsys,
        [
            "restore",
            str(source),
            str(tmp_path / "o.mp4"),
            "--detector",
            str(detector),
            "--restorer",
            str(weights),
            "--device",
            "cpu",
        ],
        detector,
    )
    assert "YOLO" in err


@pytest.mark.parametrize("kind", ["wrong_keys", "wrong_shapes"])
def test_a_restorer_with_wrong_keys_exits_2_naming_it(tmp_path, capsys, kind):
    source = write_video(tmp_path / "in.mp4", textured_frames(2), audio=False)
    weights = tmp_path / "gen.pth"
    if kind == "wrong_keys":
        torch.save({"conv.weight": torch.zeros(4, 3, 3, 3)}, weights)
    else:
        state = BasicVSRPlusPlusNet(16, 2).state_dict()
        state["conv_last.weight"] = torch.zeros(3, 8, 3, 3)
        torch.save(state, weights)
    _run_expecting_error(
        capsys,
        [
            "restore",
            str(source),
            str(tmp_path / "o.mp4"),
            "--detector",
            "d.pt",
            "--restorer",
            str(weights),
        ],
        weights,
    )


def test_a_crafted_detector_exits_2_naming_it_and_never_runs(tmp_path, capsys, generator, yolo_seg):
    from mosaicflow.yolo.checkpoint import read_checkpoint
    from tests.unit.crafted import crafted_checkpoint

    weights, _card = generator
    source = write_video(tmp_path / "in.mp4", textured_frames(2), audio=False)
    marker = tmp_path / "MARKER"
    # os.system hidden in a real YOLO checkpoint, after its model
    detector = crafted_checkpoint(tmp_path / "det.pt", marker, base=read_checkpoint(yolo_seg))
    argv = ["restore", str(source), str(tmp_path / "o.mp4"), "--detector", str(detector),
            "--restorer", str(weights), "--device", "cpu"]  # fmt: skip
    err = _run_expecting_error(capsys, argv, detector)
    assert "(--detector): refused: it names posix.system" in err
    assert not marker.exists() and not (tmp_path / "o.mp4").exists()


def test_restore_refuses_to_write_over_its_input(tmp_path, capsys, generator):
    weights, _card = generator
    source = write_video(tmp_path / "in.mp4", textured_frames(2), audio=False)
    before = source.read_bytes()
    argv = ["restore", str(source), str(source), "--detector", "d.pt", "--restorer", str(weights)]
    err = _run_expecting_error(capsys, argv, source)
    assert "the output is the input" in err
    assert source.read_bytes() == before
