"""The default models load from files (untrained YOLO-seg, random demo-size BasicVSR++) and run,
and ``mosaicflow restore`` / ``mosaicflow metrics-diff`` through ``mosaicflow.cli.main``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mosaicflow.cli import main
from mosaicflow.inference.detector import DetectorError, YoloDetector, restored_classes
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


def test_restored_classes_leave_faces_alone_by_default(tmp_path):
    ours = {0: "mosaic_region", 1: "mosaic_face"}
    ladas = {0: "mosaic_nsfw", 1: "mosaic_sfw_head"}
    assert restored_classes(ours, None, tmp_path) == {0: "mosaic_region"}
    assert restored_classes(ladas, None, tmp_path) == {0: "mosaic_nsfw"}
    assert restored_classes({0: "mosaic"}, None, tmp_path) == {0: "mosaic"}
    assert restored_classes({0: "mosaic_face"}, None, tmp_path) == {0: "mosaic_face"}
    assert restored_classes(ours, ["mosaic_face", "mosaic_region"], tmp_path) == ours
    with pytest.raises(DetectorError, match=r"no class 'heads'.*its classes: mosaic_nsfw"):
        restored_classes(ladas, ["heads"], tmp_path / "lada.pt")


def test_scores_and_thresholds_count_the_restored_classes():
    from types import SimpleNamespace

    from mosaicflow.yolo.classes import restored_by_default, restored_kwargs

    assert restored_kwargs(SimpleNamespace(names={0: "mosaic"})) == {}
    two = SimpleNamespace(names={0: "mosaic_region", 1: "mosaic_face"})
    assert restored_kwargs(two) == {"classes": [0]}
    ladas = SimpleNamespace(names={0: "mosaic_sfw_head", 1: "mosaic_nsfw"})
    assert restored_kwargs(ladas) == {"classes": [1]}
    assert restored_by_default({0: "mosaic_face"}) == {0: "mosaic_face"}


@pytest.fixture(scope="module")
def with_faces(yolo_seg, tmp_path_factory):
    """A random YOLO-seg whose most frequent class on :func:`textured_frames` is named
    ``mosaic_face``: ``(path, the face class, the classes found per frame at conf 1e-6)``."""
    import cv2
    from ultralytics import YOLO

    bgr = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in textured_frames(3)]
    model = YOLO(str(yolo_seg))
    torch.manual_seed(1)
    for branch in model.model.model[-1].cv3:  # random class weights: several classes win
        branch[-1].weight.data += 0.5 * torch.randn_like(branch[-1].weight)
        branch[-1].bias.data += 8.0  # scores above the evaluation's threshold
    found = [r.boxes.cls.int().tolist() for r in model.predict(bgr, imgsz=64, conf=1e-6)]
    counts = np.bincount([c for frame in found for c in frame])
    face = int(counts.argmax())  # the random model's most frequent class plays the faces
    assert 0 < counts[face] < counts.sum()
    model.model.names = {i: f"thing{i}" for i in range(len(model.model.names))} | {
        face: "mosaic_face"
    }
    path = tmp_path_factory.mktemp("two") / "two.pt"
    model.save(path)
    return path, face, found


def test_the_detector_finds_only_the_classes_asked_for(with_faces, ultralytics_offline):
    from ultralytics import YOLO

    path, face, found = with_faces
    frames = [f for f in textured_frames(3)]
    model = YOLO(str(path))
    settings = {"device": "cpu", "imgsz": 64, "conf": 1e-6}
    every = YoloDetector(path, classes=list(model.model.names.values()), **settings)
    assert "classes" not in every.kwargs
    faces = YoloDetector(path, classes=["mosaic_face"], **settings)
    assert faces.classes == {face: "mosaic_face"} and faces.kwargs["classes"] == [face]
    default = YoloDetector(path, **settings)
    assert face not in default.classes and len(default.classes) == len(model.model.names) - 1
    # the same detections as ultralytics' own of that class, found among every class
    assert [len(d.scores) for d in faces.detect(frames)] == [f.count(face) for f in found]
    assert [len(d.scores) for d in every.detect(frames)] == [len(f) for f in found]
    assert [len(d.scores) for d in default.detect(frames)] == [
        len(f) - f.count(face) for f in found
    ]


def test_scoring_by_class_keeps_each_class_and_its_truth(
    with_faces, yolo_seg, tmp_path, ultralytics_offline
):
    from ultralytics import YOLO

    from mosaicflow.formats.truth import (
        TRUTH_VERSION,
        load_truth_json,
        truth_mask_writer,
        write_truth_json,
    )
    from mosaicflow.video.decode import iter_frames
    from mosaicflow.yolo.scoring import EVAL_CONF, MAX_DET, TruthVideo, run_segmentation

    path, face, _ = with_faces
    frames = textured_frames(3)
    video = write_video(tmp_path / "v.mp4", frames, audio=False)
    with truth_mask_writer(tmp_path / "t.mkv", 10, frames.shape[2], frames.shape[1]) as write:
        for _ in frames:
            ids = np.zeros(frames.shape[1:3], np.uint8)
            ids[4:20, 4:20], ids[24:44, 30:60] = 1, 2
            write(ids)
    per_frame = [{"frame": i, "instances": [1, 2], "face_instances": [2]} for i in range(3)]
    write_truth_json(tmp_path / "t.json", {
        "version": TRUTH_VERSION, "fps": 10, "width": frames.shape[2], "height": frames.shape[1],
        "frames": 3, "classes": [], "per_frame": per_frame,
    })  # fmt: skip
    item = TruthVideo(video, tmp_path / "t.mkv", tmp_path / "t.json")
    settings = {"imgsz": 64, "device": "cpu", "iou": 0.7}
    by_class = run_segmentation(path, [item], by_class=True, **settings)
    assert by_class.names[face] == "mosaic_face" and len(by_class.names) > 2
    region = 0 if face else 1  # the first class that is not the face's
    assert sorted(a["category_id"] for a in by_class.gt_anns) == sorted([region + 1, face + 1] * 3)
    predicted = sorted(d["category_id"] - 1 for d in by_class.det_box)
    assert face in predicted and set(predicted) - {face}
    model = YOLO(str(path))  # ultralytics' own classes on the decoded frames
    decoded = [image for _, image in iter_frames(video, None, fmt="bgr24")]
    own = [r.boxes.cls.int().tolist() for r in model.predict(
        decoded, conf=EVAL_CONF, max_det=MAX_DET, imgsz=64, iou=0.7, verbose=False
    )]  # fmt: skip
    assert predicted == sorted(c for frame in own for c in frame)
    scores = by_class.class_scores()
    assert scores["per_class_instances"]["mosaic_face"] == 3
    assert set(scores["per_class_mask_map50"]) == set(by_class.names)
    restored = run_segmentation(path, [item], restored_only=True, **settings)
    assert len(restored.gt_anns) == 3 and {a["category_id"] for a in restored.gt_anns} == {1}
    assert len(restored.det_box) == sum(len(f) - f.count(face) for f in own)
    # a detector without a face class restores the faces too: they stay in its truth
    one = run_segmentation(yolo_seg, [item], restored_only=True, **settings)
    assert len(one.gt_anns) == 6 and one.truth == [True] * 3
    short = tmp_path / "short.json"
    write_truth_json(
        short, {**load_truth_json(tmp_path / "t.json"), "frames": 2, "per_frame": per_frame[:2]}
    )
    with pytest.raises(ValueError, match=r"short\.json: no per_frame entry for frame 2"):
        run_segmentation(path, [TruthVideo(video, tmp_path / "t.mkv", short)], **settings)


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
            "--classes",
            "0",
            "--summary",
            str(summary),
            "--masks-out",
            str(tmp_path / "masks.parquet"),
        ]
    )
    assert code == 0
    assert stream_info(out)["frames"] == 6 and stream_info(out)["audio_packets"] > 0
    record = json.loads(summary.read_text())
    assert record["frames"] == 6 and record["classes"] == ["0"]  # an untrained model's names
    assert (tmp_path / "masks.parquet").is_file()


def test_restore_prints_its_summary_alone_on_stdout(yolo_seg, generator, tmp_path):
    """``mosaicflow restore ... | jq`` works: ultralytics' model summary and log lines, printed
    while the models load and run, go to stderr."""
    weights, card = generator
    source = write_video(tmp_path / "in.mp4", textured_frames(3), audio=False)
    env = {k: v for k, v in os.environ.items() if k != "YOLO_CONFIG_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "mosaicflow.cli", "restore", str(source), str(tmp_path / "o.mp4"),
         "--detector", str(yolo_seg), "--restorer", str(weights), "--restorer-card", str(card),
         "--device", "cpu", "--imgsz", "64", "--threads", "1", "--preset", "ultrafast",
         "--no-progress", "--classes", "0"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frames"] == 3, done.stdout
    assert "Ultralytics Settings" in done.stderr  # its settings banner, moved there


def _run_expecting_error(capsys, argv: list[str], named: Path) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(named) in err, err
    return err


def test_a_class_the_detector_lacks_exits_2_naming_its_classes(tmp_path, capsys, yolo_seg):
    source = write_video(tmp_path / "in.mp4", textured_frames(2), audio=False)
    # the classes are checked before the restorer is read: a broken one is never reached
    broken = tmp_path / "generator.pth"
    broken.write_bytes(b"not a state dict")
    argv = ["restore", str(source), str(tmp_path / "out.mp4"), "--detector", str(yolo_seg),
            "--restorer", str(broken), "--classes", "0", "mosaic_face"]  # fmt: skip
    err = _run_expecting_error(capsys, argv, yolo_seg)
    assert "no class 'mosaic_face'" in err and "its classes: 0, 1, 2" in err
    assert str(broken) not in err
    assert not (tmp_path / "out.mp4").exists()


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
def test_a_restorer_with_wrong_keys_exits_2_naming_it(tmp_path, capsys, kind, yolo_seg):
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
            str(yolo_seg),
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
