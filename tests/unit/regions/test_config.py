"""The region stage configs match their schema sections; training args follow the CPU fixes."""

from __future__ import annotations

import dataclasses

import pytest

from mosaicflow.config import (
    build,
    contract_mismatches,
    load_schema,
    schema_section,
    validate_config,
)
from mosaicflow.regions.config import RegionsConfig, WatermarkConfig
from mosaicflow.regions.train import region_spec, watermark_spec

SECTIONS = {"regions": RegionsConfig, "watermark": WatermarkConfig}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_dataclass_matches_schema(section):
    assert contract_mismatches(SECTIONS[section], schema_section(load_schema(), section)) == []


@pytest.mark.parametrize("profile", ["demo", "full"])
def test_profiles_build_both_configs(profile):
    config = {"profile": profile}
    validate_config(config)
    regions = build(RegionsConfig, config["regions"])
    watermark = build(WatermarkConfig, config["watermark"])
    assert regions.model.endswith("-seg.yaml") and not watermark.model.endswith("-seg.yaml")
    if profile == "full":
        assert (regions.model, regions.imgsz, regions.epochs) == ("yolo11m-seg.yaml", 640, 200)
        assert regions.val_during_training
    else:
        assert not regions.val_during_training and regions.warmup_epochs == 1
    # budgets count epochs, never the clock; the optimizer is always named
    for cfg in (regions, watermark):
        assert cfg.time_minutes is None and cfg.epochs >= 1
        assert cfg.optimizer in {"SGD", "AdamW", "MuSGD"} and cfg.lr0 > 0


def demo_regions(**changes):
    config = {"profile": "demo"}
    validate_config(config)
    return dataclasses.replace(build(RegionsConfig, config["regions"]), **changes)


def test_train_args_apply_the_cpu_fixes():
    args = region_spec(demo_regions(batch=8, nbs=None, time_minutes=3)).train_args()
    assert args["nbs"] == 8  # every batch is an optimizer step
    assert "time" not in args  # a cap never becomes ultralytics' clock-fitted budget
    assert args["val"] is False and args["warmup_epochs"] == 1 and args["plots"] is False


def test_train_args_name_the_optimizer_and_learning_rate():
    cfg = demo_regions(optimizer="AdamW", lr0=0.003, epochs=7)
    args = region_spec(cfg).train_args()
    assert (args["optimizer"], args["lr0"], args["epochs"]) == ("AdamW", 0.003, 7)


@pytest.mark.parametrize(
    ("overrides", "message"), [({"optimizer": "auto"}, "auto"), ({"time": 0.1}, "epochs")]
)
def test_clock_or_auto_dependent_training_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        region_spec(demo_regions(overrides=overrides)).train_args()


def test_schema_refuses_the_auto_optimizer():
    config = {"profile": "demo", "regions": {"optimizer": "auto"}}
    with pytest.raises(Exception, match="auto"):
        validate_config(config)


def test_overrides_win():
    args = region_spec(demo_regions(time_minutes=0, nbs=64, overrides={"mosaic": 0.5})).train_args()
    assert "time" not in args and args["nbs"] == 64 and args["mosaic"] == 0.5
    config = {"profile": "demo", "watermark": {"single_cls": True}}
    validate_config(config)
    assert watermark_spec(build(WatermarkConfig, config["watermark"])).train_args()["single_cls"]


def test_unknown_key_in_section_fails():
    from mosaicflow.config import ConfigError

    with pytest.raises(ConfigError, match="regions"):
        validate_config({"regions": {"epoch": 3}})


def test_stage_config_builds_each_stage_and_names_an_unknown_one():
    from mosaicflow.regions.config import stage_config
    from mosaicflow.regions.train import train_model

    config = {"profile": "demo"}
    validate_config(config)
    assert isinstance(stage_config("region_seg", config["regions"]), RegionsConfig)
    assert isinstance(stage_config("watermark", config["watermark"]), WatermarkConfig)
    with pytest.raises(ValueError, match="'detector'"):
        stage_config("detector", config["regions"])
    with pytest.raises(ValueError, match="'watermark' does not take a RegionsConfig"):
        train_model(
            "watermark", stage_config("region_seg", config["regions"]), None, None, None,
            code="", device="cpu", threads=1, seed=0,
        )  # fmt: skip


def test_every_stage_has_a_spec_and_a_test_scorer():
    from mosaicflow.regions.config import STAGE_CONFIGS, stage_config
    from mosaicflow.regions.train import STAGES, TrainSpec, stage_kind

    assert set(STAGES) == set(STAGE_CONFIGS)
    config = {"profile": "demo"}
    validate_config(config)
    tasks = {}
    for stage, section in (("region_seg", "regions"), ("watermark", "watermark")):
        cfg = stage_config(stage, config[section])
        spec = stage_kind(stage, cfg).spec(cfg)
        assert isinstance(spec, TrainSpec)
        tasks[stage] = spec.task
    assert tasks == {"region_seg": "segment", "watermark": "detect"}
    with pytest.raises(ValueError, match="'detector'"):
        stage_kind("detector", stage_config("watermark", config["watermark"]))
