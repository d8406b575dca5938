"""YOLO checkpoints pass ultralytics' restricted unpickler before anything else loads them: a
crafted pickle is refused by every entry point (naming the file, its origin and the offending
global) and never runs, while real checkpoints (the nudenet bases, a real training's ``last.pt``
and ``best.pt``, a saved model) still load, resume, validate and export."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mosaicflow.yolo.checkpoint import (
    CheckpointError,
    UnsafeCheckpointError,
    load_yolo,
    read_checkpoint,
)
from mosaicflow.yolo.spec import TrainSpec
from tests.unit.crafted import GLOBALS, crafted_checkpoint
from tests.unit.yolo.fakes import box_dataset

KINDS = ["system", "exec", "hidden"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, ultralytics_offline) -> Path:
    """A YOLOv8n-seg built from its yaml and saved by ultralytics (a real checkpoint)."""
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("saved") / "model.pt"
    torch.manual_seed(0)
    YOLO("yolov8n-seg.yaml", task="segment").save(path)
    return path


def crafted(tmp_path: Path, kind: str, saved_model: Path | None = None) -> tuple[Path, Path]:
    """A crafted ``.pt`` of ``kind`` (``hidden``: os.system inside a real checkpoint) and the
    marker its unpickling would create."""
    marker = tmp_path / f"MARKER-{kind}"
    base = read_checkpoint(saved_model) if kind == "hidden" else None
    path = crafted_checkpoint(
        tmp_path / f"{kind}.pt", marker, "exec" if kind == "exec" else "system", base
    )
    return path, marker


def offending(kind: str) -> str:
    return GLOBALS["exec" if kind == "exec" else "system"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_crafted_checkpoints_run_code_when_loaded_unrestricted(tmp_path, kind, saved_model):
    path, marker = crafted(tmp_path, kind, saved_model)
    torch.load(path, map_location="cpu", weights_only=False)
    assert marker.exists()  # so the refusals below are of live payloads


@pytest.mark.parametrize("kind", KINDS)
def test_a_crafted_checkpoint_is_refused_naming_file_origin_and_global(tmp_path, kind, saved_model):
    path, marker = crafted(tmp_path, kind, saved_model)
    for load in (read_checkpoint, load_yolo):
        refused = rf"{re.escape(str(path))} \(regions\.weights\): refused: it names "
        with pytest.raises(UnsafeCheckpointError, match=refused + re.escape(offending(kind))):
            load(path, origin="regions.weights")
    assert not marker.exists()


def test_unreadable_and_foreign_files_are_named(tmp_path, ultralytics_offline):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a model")
    with pytest.raises(CheckpointError, match=r"garbage\.pt \(--model\): not a readable") as err:
        read_checkpoint(garbage, origin="--model")
    assert not isinstance(err.value, UnsafeCheckpointError)
    with pytest.raises(CheckpointError, match=r"missing\.pt: no such checkpoint file"):
        load_yolo(tmp_path / "missing.pt")
    other = tmp_path / "model.pth"
    other.write_bytes(b"x")
    with pytest.raises(CheckpointError, match=r"model\.pth: not a YOLO model file"):
        load_yolo(other)


def test_ultralytics_loads_restricted_even_when_imported_before_the_setup(tmp_path, saved_model):
    path, marker = crafted(tmp_path, "system")
    code = (
        "import sys\n"
        "import ultralytics.nn.tasks as tasks\n"
        "assert not tasks.SAFE_LOAD\n"
        "from mosaicflow.yolo.offline import prepare_ultralytics\n"
        "prepare_ultralytics(sys.argv[1], 1)\n"
        "from ultralytics import YOLO\n"
        "try:\n"
        "    YOLO(sys.argv[2])\n"
        "except Exception as err:\n"
        "    print('refused', type(err).__name__)\n"
        "print('loads', YOLO(sys.argv[3]).task)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ULTRALYTICS_SAFE_LOAD"}
    env["YOLO_CONFIG_DIR"] = str(tmp_path / "cfg")  # imported first with its settings here
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "cfg"), str(path), str(saved_model)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "refused TypeError" in proc.stdout and "loads segment" in proc.stdout
    assert not marker.exists()


def _entry_points(tmp: Path, weights: Path) -> dict:
    """Every function of the package that loads a YOLO model, called on ``weights``."""
    from mosaicflow.curate.contrast_check import SegmenterDetections
    from mosaicflow.curate.label_issue_jobs import LabelIssueJob, predict
    from mosaicflow.inference.detector import YoloDetector
    from mosaicflow.yolo import export, mosaics, scoring
    from mosaicflow.yolo.dataset import read_dataset
    from mosaicflow.yolo.detect import load_detector
    from mosaicflow.yolo.fit import train_yolo
    from mosaicflow.yolo.infer import track_video
    from mosaicflow.yolo.prelabel import prelabel_images
    from mosaicflow.yolo.watermark import WatermarkDetector

    images = tmp / "images"
    images.mkdir(exist_ok=True)
    cv2.imwrite(str(images / "a.png"), np.zeros((16, 16, 3), np.uint8))
    spec = TrainSpec(task="segment", model=None, pretrained=None, weights=None, imgsz=64, epochs=1,
                     time_minutes=None, optimizer="SGD", lr0=0.01, warmup_bias_lr=0.0, batch=2,
                     nbs=None, warmup_epochs=0, val_during_training=False, close_mosaic=0,
                     single_cls=False)  # fmt: skip
    job = LabelIssueJob((), weights, ("a",), None, 64, "cpu", 1, tmp / "w", tmp / "t", tmp / "e",
                        tmp / "m")  # fmt: skip
    cfg = tmp / "cfg"
    return {
        "load_detector": lambda: load_detector(weights, "--model"),
        "YoloDetector": lambda: YoloDetector(weights, device="cpu", config_dir=cfg),
        "prelabel_images": lambda: prelabel_images(
            weights, images, tmp / "out", conf=0.25, imgsz=64, device="cpu"
        ),
        "track_video": lambda: track_video(
            weights,
            tmp / "v.mp4",
            None,
            float,
            cfg=None,
            device="cpu",
            threads=1,
            config_dir=cfg,
        ),
        "run_segmentation": lambda: scoring.run_segmentation(
            weights, [], imgsz=64, device="cpu", iou=0.5
        ),
        "evaluate_detector": lambda: scoring.evaluate_detector(
            weights, [], imgsz=64, device="cpu", single_cls=False
        ),
        "frame_top_scores": lambda: mosaics.frame_top_scores(
            weights, [], imgsz=64, device="cpu", iou=0.5, batch=1
        ),
        "WatermarkDetector": lambda: WatermarkDetector(
            weights, imgsz=64, conf=0.25, device="cpu", config_dir=cfg
        ).detect([np.zeros((16, 16, 3), np.uint8)]),
        "model_names": lambda: export.model_names(weights, "segment"),
        "validate": lambda: export.validate(
            weights, tmp / "data.yaml", spec, device="cpu", threads=1, project=tmp / "val"
        ),
        "export_onnx": lambda: export.export_onnx(weights, 64, tmp / "export"),
        "write_weights": lambda: export.write_weights(weights, tmp / "written.pt"),
        "SegmenterDetections": lambda: SegmenterDetections(
            weights, imgsz=64, iou=0.5, device="cpu", threads=1, config_dir=cfg
        ),
        "label_issues_predict": lambda: predict(weights, [], job, 0.1),
        "train_yolo": lambda: train_yolo(
            dataclasses.replace(spec, pretrained=str(weights)),
            read_dataset(box_dataset(tmp / "d")),
            tmp / "work",
            device="cpu",
            threads=1,
            seed=0,
            origin="regions.pretrained",
        ),
    }


ENTRY_POINTS = [
    "load_detector", "YoloDetector", "prelabel_images", "track_video", "run_segmentation",
    "evaluate_detector", "frame_top_scores", "WatermarkDetector", "model_names", "validate",
    "export_onnx", "write_weights", "SegmenterDetections", "label_issues_predict", "train_yolo",
]  # fmt: skip


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_refuses_a_crafted_checkpoint(tmp_path, entry, saved_model):
    path, marker = crafted(tmp_path, "hidden", saved_model)
    calls = _entry_points(tmp_path, path)
    assert set(calls) == set(ENTRY_POINTS)
    with pytest.raises(ValueError, match=r"posix\.system") as err:
        calls[entry]()
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_a_saved_model_and_the_nudenet_base_load_restricted(tmp_path, saved_model):
    from mosaicflow.yolo.bases import convert_base, nudenet_onnx, save_base

    assert load_yolo(saved_model, "segment").task == "segment"
    for task in ("detect", "segment"):
        model, report = convert_base(nudenet_onnx(), task)
        base = save_base(model, report, tmp_path / f"{task}.pt")
        assert load_yolo(base).task == task
        assert isinstance(read_checkpoint(base)["model"], torch.nn.Module)


class Killed(Exception):
    """Ends a training after its first checkpoint, like a kill."""


def _kill_after_first_save(trainer) -> None:
    if trainer.epoch == 0:
        raise Killed


def test_a_real_training_resumes_validates_and_exports_through_the_restricted_loader(
    tmp_path, ultralytics_offline
):
    from mosaicflow.yolo.dataset import mirror_dataset, read_dataset
    from mosaicflow.yolo.export import export_onnx, model_names, validate, write_weights
    from mosaicflow.yolo.fit import train_yolo
    from mosaicflow.yolo.offline import prepare_ultralytics

    prepare_ultralytics(tmp_path / "cfg", 2)
    dataset = read_dataset(box_dataset(tmp_path / "data"))
    spec = TrainSpec(task="segment", model="yolov8n-seg.yaml", pretrained=None, weights=None,
                     imgsz=64, epochs=2, time_minutes=None, optimizer="SGD", lr0=0.01,
                     warmup_bias_lr=0.0, batch=2, nbs=None, warmup_epochs=0,
                     val_during_training=False, close_mosaic=0, single_cls=False)  # fmt: skip
    work = tmp_path / "work"

    def train(**kwargs):
        return train_yolo(spec, dataset, work, device="cpu", threads=2, seed=0, **kwargs)

    with pytest.raises(Killed):
        train(callbacks={"on_model_save": _kill_after_first_save})
    weights = work / "run" / "weights"
    assert read_checkpoint(weights / "last.pt")["epoch"] == 0  # a real unfinished checkpoint
    for name in ("last.pt", "best.pt"):  # the run's own files are refused too, not restarted
        real = (weights / name).read_bytes()
        marker = tmp_path / f"MARKER-{name}"
        crafted_checkpoint(weights / name, marker, base=read_checkpoint(weights / name))
        with pytest.raises(UnsafeCheckpointError, match=rf"{name}: refused: .*posix\.system"):
            train()
        assert not marker.exists() and (weights / name).is_file()
        (weights / name).write_bytes(real)
    result = train()
    assert (result.source, result.resumed_at_epoch, result.epochs_run) == ("resumed", 1, 2)
    assert model_names(result.weights, "segment") == {0: "box"}
    data_yaml = mirror_dataset(dataset, work / "data")
    metrics = validate(result.weights, data_yaml, spec, device="cpu", threads=2, project=work)
    assert set(metrics) >= {"box_map50", "mask_map50"}
    assert export_onnx(result.weights, 64, tmp_path / "export").suffix == ".onnx"
    write_weights(result.weights, tmp_path / "best.pt")
    assert load_yolo(tmp_path / "best.pt").task == "segment"


def test_configured_weights_are_refused_by_the_job_that_first_reads_them(tmp_path, saved_model):
    # the configuration's static check refuses the file before any job; a file replaced after
    # that check (between the plan and the job) is refused by the job's restricted load
    import shutil

    from mosaicflow.config import ConfigError, validate_config
    from mosaicflow.yolo.jobs import ModelOutputs, train_model
    from mosaicflow.yolo.models import train_job

    crafted_path, marker = crafted(tmp_path, "hidden", saved_model)
    with pytest.raises(ConfigError, match=r"'detector\.weights': .* names posix\.system"):
        validate_config({"profile": "demo", "detector": {"weights": str(crafted_path)}})
    path = tmp_path / "given.pt"
    shutil.copyfile(saved_model, path)
    config = {"profile": "demo", "detector": {"weights": str(path)}}
    validate_config(config)
    shutil.copyfile(crafted_path, path)
    outputs = ModelOutputs(tmp_path / "best.pt", tmp_path / "best.onnx", tmp_path / "train.json")
    refused = rf"{re.escape(str(path))} \(detector\.weights\): refused: it names posix\.system"
    with pytest.raises(UnsafeCheckpointError, match=refused):
        train_model(
            "detector", train_job("detector", config), None, outputs, tmp_path / "work",
            code="c", device="cpu", threads=1, seed=0, start_kind="weights",
        )  # fmt: skip
    assert not marker.exists() and not outputs.weights.exists()


def _video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (32, 32))
    for _ in range(3):
        writer.write(np.full((32, 32, 3), 128, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize("command", ["detect", "prelabel"])
def test_the_commands_exit_2_on_a_crafted_model_and_it_never_runs(
    tmp_path, capsys, command, saved_model
):
    from mosaicflow.cli import main

    path, marker = crafted(tmp_path, "hidden", saved_model)
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((16, 16, 3), np.uint8))
    out = tmp_path / "out"
    if command == "detect":
        argv = ["detect", str(_video(tmp_path / "v.avi")), "--model", str(path), "--out", str(out)]
    else:
        argv = ["prelabel", "--model", str(path), "--input", str(images), "--output", str(out)]
    assert main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"{path} (--model): refused: it names posix.system" in err, err
    assert not marker.exists()
