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
        assert regions.time_minutes == 0 and regions.val_during_training
    else:
        assert regions.time_minutes and watermark.time_minutes
        assert not regions.val_during_training and regions.warmup_epochs == 1


def demo_regions(**changes):
    config = {"profile": "demo"}
    validate_config(config)
    return dataclasses.replace(build(RegionsConfig, config["regions"]), **changes)


def test_train_args_apply_the_cpu_fixes():
    args = region_spec(demo_regions(batch=8, nbs=None, time_minutes=3)).train_args()
    assert args["nbs"] == 8  # every batch is an optimizer step
    assert args["time"] == pytest.approx(0.05)  # ultralytics counts hours
    assert args["val"] is False and args["warmup_epochs"] == 1 and args["plots"] is False


def test_overrides_win_and_no_time_without_budget():
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
