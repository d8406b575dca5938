"""Budgets in optimizer steps: the count replays ultralytics' trainer, a small set trains for at
least ``min_steps``, the demo's models keep their epochs, the state key follows the epochs."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math

import numpy as np
import pytest

from mosaicflow.yolo.budget import (
    FEW_STEPS,
    FREEZE_BELOW_IMAGES,
    budget_warnings,
    loaded_images,
    optimizer_steps,
    plan_budget,
)
from mosaicflow.yolo.fit import state_key
from mosaicflow.yolo.spec import TrainSpec, frozen_modules, plain
from tests.unit.yolo.fakes import box_dataset


def spec(**changes) -> TrainSpec:
    base = dict(task="segment", model=None, pretrained="base.pt", weights=None, imgsz=256,
                epochs=6, time_minutes=None, optimizer="AdamW", lr0=0.002, warmup_bias_lr=0.0,
                batch=16, nbs=None, warmup_epochs=1, val_during_training=False, close_mosaic=2,
                single_cls=False)  # fmt: skip
    return TrainSpec(**{**base, **changes})


def replay(nb: int, epochs: int, nbs: int, batch: int, warmup_epochs: float,
           epochs_run: int, resumed_at: int | None) -> int:  # fmt: skip
    """Ultralytics 8.4's ``_do_train`` step cadence, batch by batch (engine/trainer.py)."""
    accumulate = max(round(nbs / batch), 1)
    accumulate = min(accumulate, nb * epochs)  # _build_train_pipeline, no `time`
    nw = round(min(warmup_epochs, max(epochs - 1, 0)) * nb) if warmup_epochs > 0 else 0
    steps = 0
    sessions = [(0, resumed_at), (resumed_at, epochs_run)] if resumed_at else [(0, epochs_run)]
    for first, stop in sessions:
        acc0, last_opt_step = accumulate, -1  # each process starts the loop afresh
        current = acc0
        for epoch in range(first, stop):
            for i in range(nb):
                ni = i + nb * epoch
                if nw and ni <= nw:
                    current = max(1, int(np.interp(ni, [0, nw], [1, acc0]).round()))
                if ni - last_opt_step >= current:
                    steps, last_opt_step = steps + 1, ni
    return steps


CASES = list(
    itertools.product(
        (1, 2, 3, 7, 50),  # batches per epoch
        (1, 2, 5, 13),  # epochs
        ((16, 16), (64, 16), (40, 16), (24, 8), (64, 5)),  # nbs, batch
        (0, 0.5, 1, 3),  # warm-up epochs
    )
)


@pytest.mark.parametrize("resume", [False, True])
def test_the_step_count_replays_ultralytics_batch_by_batch(resume):
    checked = 0
    for nb, epochs, (nbs, batch), warmup in CASES:
        accumulate = max(round(nbs / batch), 1)
        for run in sorted({epochs, max(1, epochs - 2)}):  # all epochs, or stopped early
            resumed = min(run - 1, 1 + epochs // 3) if resume and run > 1 else None
            expected = replay(nb, epochs, nbs, batch, warmup, run, resumed)
            got = optimizer_steps(nb, epochs, accumulate, warmup, epochs_run=run,
                                  resumed_at=resumed)  # fmt: skip
            assert got == expected, (nb, epochs, nbs, batch, warmup, run, resumed)
            checked += 1
    assert checked > len(CASES)
    # every batch a step when nbs = batch (the workflow's default), whatever the warm-up
    assert optimizer_steps(50, 6, 1, 1.0) == 300


def test_a_small_set_trains_for_min_steps_and_says_why():
    # the report of issue 59: 12 frames at batch 16, 6 epochs = 6 optimizer steps
    small = spec(min_steps=0)
    assert plan_budget(small, 12).steps() == 6
    budget = plan_budget(spec(min_steps=200), 12)
    assert (budget.batches_per_epoch, budget.accumulate, budget.epochs) == (1, 1, 200)
    assert budget.epochs_from == "min_steps" and budget.steps() == 200
    assert budget.spec.epochs == 200 and budget.spec.min_steps == 0
    assert budget.spec.train_args()["epochs"] == 200
    record = budget.record(200)
    assert record["steps"] == 200 and record["images_seen"] == 2400
    assert (record["epochs_planned"], record["epochs_configured"]) == (200, 6)
    # ultralytics' nbs 64 at batch 16: 4 batches a step (capped by the run's batches)
    accumulated = plan_budget(spec(min_steps=200, nbs=64), 12)
    assert accumulated.accumulate == 4 and accumulated.epochs == math.ceil(200 * 4 / 1)
    assert accumulated.steps() >= 200
    # a large set keeps its epochs
    large = plan_budget(spec(min_steps=200), 800)
    assert (large.epochs, large.epochs_from, large.steps()) == (6, "epochs", 300)
    # planning is idempotent, and `epochs` in the overrides is the configured value
    assert plan_budget(budget.spec, 12).spec == budget.spec
    override = plan_budget(spec(min_steps=200, overrides={"epochs": 300}), 12)
    assert (override.epochs, override.epochs_from) == (300, "epochs")
    assert "epochs" not in override.spec.overrides
    with pytest.raises(ValueError, match="no training image"):
        plan_budget(spec(), 0)


def test_fraction_reduces_the_images_as_ultralytics_does():
    assert loaded_images(100, 1.0) == loaded_images(100, 1) == 100
    assert loaded_images(100, 0.25) == 25 and loaded_images(3, 0.1) == 1
    assert loaded_images(100, 40) == 40 and loaded_images(10, 40) == 10
    assert loaded_images(100, [0.5, 1.0]) == 50
    assert plan_budget(spec(min_steps=0, overrides={"fraction": 0.5}), 800).steps() == 150


def test_the_demo_models_keep_their_epochs():
    """The demo defaults change no demo model: each one's epochs already give more steps."""
    from mosaicflow.config import validate_config
    from mosaicflow.yolo.models import model_config, model_spec, train_params

    config = {"profile": "demo"}
    validate_config(config)
    world = config["world"]
    frames = world["seconds"] * world["fps"]
    roles = world["roles"]
    # one labelme frame in `labelme_every` of each train and label video; one watermark image in
    # `watermark_every` of each train video; the detector's samples per train video, of which
    # about 300 of 400 survive the near-duplicate drop (docs/experiments/detector.md)
    images = {
        "region_seg": (roles["train"] + roles["label"])
        * math.ceil(frames / world["labelme_every"]),
        "watermark": roles["train"] * math.ceil(frames / world["watermark_every"]),
        "detector": roles["train"] * config["detection_dataset"]["frames_per_video"] // 2,
    }
    assert images["region_seg"] == 800 and images["watermark"] == 300
    steps = {}
    for name, section in (("region_seg", "regions"), ("watermark", "watermark"),
                          ("detector", "detector")):  # fmt: skip
        made = model_spec(name, plain(model_config(name, config[section])))
        assert made.min_steps > 0, name
        budget = plan_budget(made, images[name])
        assert budget.epochs_from == "epochs" and budget.epochs == made.epochs, name
        assert budget.freeze == "none", name  # every layer learns (auto: large enough sets)
        assert "freeze" not in budget.spec.train_args(), name
        steps[name] = budget.steps()
    # (the detector's figure is for half its samples: its default holds down to there)
    assert steps == {"region_seg": 300, "watermark": 152, "detector": 200}
    # a set of the size of issue 59's does train for min_steps
    tiny = plan_budget(model_spec("region_seg", train_params("region_seg", config)), 12)
    assert tiny.epochs_from == "min_steps" and tiny.steps() >= 200
    assert tiny.freeze == "head-only" and tiny.spec.freeze == "head-only"
    assert config["detector"]["freeze"] == "none"  # the mosaic detector learns every layer


def test_auto_freezes_the_backbone_of_a_pretrained_model_on_a_small_set():
    assert plan_budget(spec(freeze="auto"), FREEZE_BELOW_IMAGES - 1).freeze == "head-only"
    assert plan_budget(spec(freeze="auto"), FREEZE_BELOW_IMAGES).freeze == "none"
    scratch = spec(freeze="auto", model="yolov8n-seg.yaml", pretrained=None)
    assert plan_budget(scratch, 12).freeze == "none"  # random layers must all learn
    assert plan_budget(spec(freeze="none"), 12).freeze == "none"
    assert plan_budget(spec(freeze="backbone"), 5000).freeze == "backbone"
    planned = plan_budget(spec(freeze="auto"), 12)
    assert plan_budget(planned.spec, 12).spec == planned.spec  # planning is idempotent
    assert planned.record(10)["freeze"] == "head-only"
    small, large = (
        plan_budget(spec(freeze="auto", epochs=300), 12),
        plan_budget(spec(freeze="none", epochs=300), 12),
    )
    assert state_key(small.spec, "d", 1, "cpu") != state_key(large.spec, "d", 1, "cpu")
    with pytest.raises(ValueError, match="freeze must be auto, none, backbone, head-only"):
        spec(freeze="head").train_args()


def test_frozen_modules_follow_the_network():
    v8 = ["Conv", "Conv", "C2f", "Conv", "C2f", "Conv", "C2f", "Conv", "C2f", "SPPF"]
    v8 += ["Upsample", "Concat", "C2f"] * 4 + ["Segment"]
    v11 = [*v8[:10], "C2PSA", *v8[10:]]
    assert [frozen_modules(v8, f) for f in ("none", "backbone", "head-only")] == [0, 10, 22]
    assert [frozen_modules(v11, f) for f in ("backbone", "head-only")] == [10, 23]
    with pytest.raises(ValueError, match="needs a network with an SPPF"):
        frozen_modules(["Conv", "Detect"], "backbone")
    with pytest.raises(ValueError, match="not resolved"):
        frozen_modules(v8, "auto")


def test_the_state_key_follows_the_effective_epochs():
    small = {m: plan_budget(spec(min_steps=m), 12).spec for m in (200, 300)}
    assert state_key(small[200], "d", 1, "cpu") != state_key(small[300], "d", 1, "cpu")
    large = {m: plan_budget(spec(min_steps=m), 800).spec for m in (200, 250)}
    assert large[200] == large[250]  # no change in epochs: the finished run is reused
    assert state_key(large[200], "d", 1, "cpu") == state_key(large[250], "d", 1, "cpu")
    with pytest.raises(ValueError, match="planned spec"):
        state_key(spec(min_steps=200), "d", 1, "cpu")


def test_warnings_name_the_model_the_numbers_and_what_to_do():
    budget = plan_budget(spec(min_steps=0), 12)
    warnings = budget_warnings("region_seg", "regions", budget, 6, 14, "Label more frames")
    assert len(warnings) == 2
    steps, instances = warnings
    for words in ("region_seg", "only 6 optimizer steps", "12 training images",
                  "regions.batch 16", f"fewer than {FEW_STEPS}", "Label more frames",
                  "raise regions.min_steps (now 0)", "lower regions.batch"):  # fmt: skip
        assert words in steps
    for words in ("region_seg", "only 14 labelled instances", "12 training images",
                  "fewer than 30", "regions.min_steps"):  # fmt: skip
        assert words in instances
    planned = plan_budget(spec(min_steps=200), 12)
    assert budget_warnings("region_seg", "regions", planned, 200, 40, "Label more") == []


def test_the_model_card_records_the_budget(tmp_path):
    from mosaicflow.yolo.card import training_record
    from mosaicflow.yolo.fit import YoloTrainResult

    budget = plan_budget(spec(min_steps=200), 12)
    result = YoloTrainResult(tmp_path / "w.pt", tmp_path, True, None, 200, 1.0, "trained",
                         steps=200, images_seen=2400)  # fmt: skip
    figures = {**budget.record(200), "train_instances": 14, "warnings": ["few"]}
    record = training_record(
        "region_seg", budget.spec, result, config={"epochs": 6, "min_steps": 200}, code="c",
        names={0: "nsfw"}, metrics={}, dataset=None, state_key="k", device="cpu", threads=1,
        budget=figures,
    )  # fmt: skip
    training = record["training"]
    assert (training["steps"], training["images_seen"]) == (200, 2400)
    assert (training["epochs_planned"], training["epochs_from"]) == (200, "min_steps")
    assert training["train_args"]["epochs"] == 200 and training["warnings"] == ["few"]
    given = training_record(
        "region_seg", spec(), YoloTrainResult(tmp_path / "w.pt", tmp_path, False, None, 0, 0.0,
                                          "weights"),
        config={}, code="c", names={0: "nsfw"}, metrics={}, dataset=None, state_key="k",
        device="cpu", threads=1,
    )  # fmt: skip
    assert given["training"]["steps"] == 0 and given["training"]["epochs_from"] is None


def test_a_real_training_takes_the_steps_the_card_records(
    tmp_path, ultralytics_offline, monkeypatch, caplog
):
    """Rule train_model on 4 images at batch 2 with nbs 4 (2 batches a step, ramped up in the
    warm-up) and min_steps 5: ultralytics' own optimizer_step calls are counted; the card and
    the log say what the model trained on."""
    from ultralytics.engine.trainer import BaseTrainer

    from mosaicflow.config import validate_config
    from mosaicflow.yolo.dataset import read_dataset
    from mosaicflow.yolo.fit import train_yolo
    from mosaicflow.yolo.jobs import ModelOutputs, train_model
    from mosaicflow.yolo.models import model_spec, train_params

    taken = []
    step = BaseTrainer.optimizer_step

    def counted(trainer) -> None:
        taken.append(trainer.epoch)
        step(trainer)

    monkeypatch.setattr(BaseTrainer, "optimizer_step", counted)
    config = {"profile": "demo"}
    validate_config(config)
    params = train_params("region_seg", config)
    params.update(model="yolov8n-seg.yaml", pretrained=None, imgsz=64, epochs=1, batch=2, nbs=4,
                  close_mosaic=0, min_steps=5, warmup_epochs=1)  # fmt: skip
    data = box_dataset(tmp_path / "data")
    outputs = ModelOutputs(tmp_path / "best.pt", tmp_path / "best.onnx", tmp_path / "train.json")
    with caplog.at_level(logging.INFO, logger="mosaicflow.yolo.jobs"):
        record = train_model("region_seg", model_spec("region_seg", params), data, outputs,
                             tmp_path / "work", code="c",
                             device="cpu", threads=2, seed=0, start_kind="scratch")  # fmt: skip
    training = record["training"]
    budget = plan_budget(spec(**{**params, "overrides": {}}), 4)
    assert (budget.batches_per_epoch, budget.accumulate, budget.epochs) == (2, 2, 5)
    assert training["epochs_run"] == training["epochs_planned"] == 5
    assert training["steps"] == len(taken) == budget.steps() == 5
    assert (training["images_seen"], training["train_images"], training["train_instances"]) == (
        20, 4, 4,
    )  # fmt: skip
    assert (training["epochs_from"], training["min_steps"]) == ("min_steps", 5)
    assert len(training["warnings"]) == 2 and json.loads(outputs.train_json.read_text()) == record
    assert "region_seg: 5 epochs (from min_steps: regions.epochs 1, regions.min_steps 5)" in (
        caplog.text
    )
    assert "region_seg: trained only 5 optimizer steps" in caplog.text
    assert "region_seg: trained on only 4 labelled instances" in caplog.text
    # the finished run is reused as it is, with the same figures
    planned = plan_budget(spec(**{**params, "overrides": {}}), 4).spec
    planned = dataclasses.replace(planned, cpu_precision=training["cpu_precision"])
    again = train_yolo(planned, read_dataset(data), tmp_path / "work" / record["state_key"],
                       device="cpu", threads=2, seed=0)  # fmt: skip
    assert (again.source, again.steps, again.images_seen) == ("reused", 5, 20)
    assert len(taken) == 5
