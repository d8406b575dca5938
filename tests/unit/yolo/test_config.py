"""The YOLO model configs match their schema sections; training args follow the CPU fixes; the
model table gives each rule only the keys it reads."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mosaicflow.config import (
    build,
    contract_mismatches,
    load_schema,
    schema_section,
    validate_config,
)
from mosaicflow.yolo.config import (
    DetectorConfig,
    RegionsConfig,
    RegionsInferConfig,
    RegionsPrelabelConfig,
    WatermarkConfig,
)
from mosaicflow.yolo.models import MODELS, model_spec, training_keys
from mosaicflow.yolo.spec import plain

SECTIONS = {kind.section: kind.config for kind in MODELS.values()}


def region_spec(cfg):
    return model_spec("region_seg", plain(cfg))


def watermark_spec(cfg):
    return model_spec("watermark", plain(cfg))


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_dataclass_matches_schema(section):
    assert contract_mismatches(SECTIONS[section], schema_section(load_schema(), section)) == []


@pytest.mark.parametrize("profile", ["demo", "full"])
def test_profiles_build_both_configs(profile):
    config = {"profile": profile}
    validate_config(config)
    regions = build(RegionsConfig, config["regions"])
    watermark = build(WatermarkConfig, config["watermark"])
    assert regions.model is None and watermark.model is None  # both start from the YOLO base
    if profile == "full":
        assert (regions.imgsz, regions.epochs) == (640, 200)
        assert regions.val_during_training
    else:
        assert not regions.val_during_training and regions.warmup_epochs == 1
    # budgets count epochs, never the clock; the optimizer is always named
    for cfg in (regions, watermark):
        assert cfg.time_minutes is None and cfg.epochs >= 1
        assert cfg.optimizer in {"SGD", "AdamW", "MuSGD"} and cfg.lr0 > 0


@pytest.mark.parametrize("narrow", [RegionsInferConfig, RegionsPrelabelConfig])
def test_inference_and_prelabel_configs_are_regions_keys(narrow):
    # the keys infer_regions and prelabel_uncertain get: fields of `regions` with its types
    fields = {field.name: field.type for field in dataclasses.fields(narrow)}
    assert fields.items() <= {f.name: f.type for f in dataclasses.fields(RegionsConfig)}.items()
    assert not {"epochs", "lr0", "labels", "batch"} & fields.keys()  # no training key
    config = {"profile": "demo"}
    validate_config(config)
    built = build(narrow, {key: config["regions"][key] for key in fields})
    regions = build(RegionsConfig, config["regions"])
    assert all(getattr(built, key) == getattr(regions, key) for key in fields)


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


def test_model_config_builds_each_model_and_names_an_unknown_one():
    from mosaicflow.yolo.jobs import train_model
    from mosaicflow.yolo.models import model_config, train_job

    config = {"profile": "demo"}
    validate_config(config)
    assert isinstance(model_config("region_seg", config["regions"]), RegionsConfig)
    assert isinstance(model_config("watermark", config["watermark"]), WatermarkConfig)
    assert isinstance(model_config("detector", config["detector"]), DetectorConfig)
    with pytest.raises(ValueError, match="'mosaics'"):
        model_config("mosaics", config["regions"])
    segmenter_job = train_job("region_seg", config)
    with pytest.raises(ValueError, match="watermark: the training job is for a segment model"):
        train_model(
            "watermark", segmenter_job, None, None, None,
            code="", device="cpu", threads=1, seed=0,
        )  # fmt: skip


def test_every_model_has_a_spec_a_scorer_and_a_dataset():
    from mosaicflow.plan.yolo_models import model_dataset
    from mosaicflow.yolo.models import model_config, model_kind
    from mosaicflow.yolo.spec import TrainSpec

    config = {"profile": "demo"}
    validate_config(config)
    tasks = {}
    for name, kind in MODELS.items():
        spec = model_spec(name, plain(model_config(name, config[kind.section])))
        assert isinstance(spec, TrainSpec)
        tasks[name] = spec.task
        assert callable(kind.test) and set(kind.test_keys) <= set(config[kind.section])
        assert model_dataset(name, config)  # the demo world trains every model
    assert tasks == {"region_seg": "segment", "watermark": "detect", "detector": "segment"}
    with pytest.raises(ValueError, match="'mosaics'"):
        model_kind("mosaics")


INFERENCE_KEYS = {
    "regions": {"conf", "iou", "tracker", "infer_batch", "half", "prelabel_frames"},
    "watermark": {"conf"},
    "detector": {"conf", "max_fp_rate", "iou", "infer_batch", "half"},
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_train_params_hold_the_training_keys_only(name):
    from mosaicflow.yolo.models import model_config, train_params

    config = {"profile": "demo"}
    validate_config(config)
    section = MODELS[name].section
    params = train_params(name, config)
    assert not set(params) & INFERENCE_KEYS[section]
    assert not set(params) & {"labels", "empty_flag", "val_fraction"}  # the dataset's keys
    # the same spec as from the whole section, so the same state folder and weights
    assert model_spec(name, params) == model_spec(name, plain(model_config(name, config[section])))
    changed = {**config, section: {**config[section], "conf": 0.9}}
    assert train_params(name, changed) == params


@pytest.mark.parametrize("name", sorted(MODELS))
def test_evaluate_params_hold_the_scorer_keys(name):
    from mosaicflow.yolo.models import evaluate_params, train_params

    config = {"profile": "demo"}
    validate_config(config)
    section = MODELS[name].section
    params = evaluate_params(name, config)
    assert set(params) == set(MODELS[name].test_keys)
    if name == "detector":  # the threshold is chosen from conf up, on validation
        assert params["conf"] == config["detector"]["conf"]
        assert params["max_fp_rate"] == config["detector"]["max_fp_rate"] == 0.05
        changed = {**config, section: {**config[section], "max_fp_rate": None}}
        assert evaluate_params(name, changed)["max_fp_rate"] is None
        changed = {**config, section: {**config[section], "max_fp_rate": 0.05}}
        assert train_params(name, changed) == train_params(name, config)
        return
    assert "conf" not in params
    if name == "region_seg":  # scored with the inference NMS IoU on purpose
        assert params["iou"] == config["regions"]["iou"]
    changed = {**config, section: {**config[section], "conf": 0.9}}
    assert evaluate_params(name, changed) == params


def test_given_weights_or_no_labels_mean_no_dataset():
    from mosaicflow.plan.yolo_models import has_model, model_dataset

    config = {
        "source": {
            "kind": "videos",
            "labelme_train": None,
            "labelme_val": None,
            "watermark_dataset": "wm",
        },
        "regions": {"weights": None},
        "watermark": {"weights": None},
    }
    assert model_dataset("region_seg", config) is None and not has_model("region_seg", config)
    assert model_dataset("watermark", config) == "wm"
    config["regions"]["weights"] = "given.pt"
    config["watermark"]["weights"] = "given.pt"
    assert has_model("region_seg", config) and model_dataset("watermark", config) is None


def test_every_yolo_model_starts_from_its_base_unless_told_otherwise():
    from mosaicflow.config import validate_config
    from mosaicflow.plan.yolo_models import model_init, start_kind

    for profile in ("demo", "full"):
        config = {"profile": profile}
        validate_config(config)
        assert model_init("region_seg", config) == "results/models/bases/yolov8n-seg.pt"
        assert model_init("detector", config) == "results/models/bases/yolov8n-seg.pt"
        assert model_init("watermark", config) == "results/models/bases/yolov8n.pt"
        assert {start_kind(m, config) for m in ("region_seg", "watermark", "detector")} == {"base"}
    config["regions"]["model"] = "yolo11n-seg.yaml"  # from scratch
    config["watermark"]["pretrained"] = "coco.pt"  # a local checkpoint
    config["detector"]["weights"] = "given.pt"  # used as is: nothing trains
    assert [model_init(m, config) for m in ("region_seg", "watermark", "detector")] == [None] * 3
    assert [start_kind(m, config) for m in ("region_seg", "watermark", "detector")] == [
        "scratch", "pretrained", "weights"
    ]  # fmt: skip


def test_detector_starts_from_the_region_segmenter_only_when_asked_and_possible():
    from mosaicflow.config import validate_config
    from mosaicflow.plan.yolo_models import model_init, start_kind

    config = {"profile": "demo"}
    validate_config(config)
    assert config["detector"]["from_region_seg"] is False
    config["detector"]["from_region_seg"] = True
    assert model_init("detector", config) == "results/models/region_seg/best.pt"
    assert start_kind("detector", config) == "region_seg"
    config["detector"]["model"] = "yolo11n-seg.yaml"  # the segmenter's start wins over a yaml
    assert model_init("detector", config) == "results/models/region_seg/best.pt"
    config["detector"]["pretrained"] = "coco.pt"
    with pytest.raises(ValueError, match=r"from_region_seg and detector\.pretrained"):
        model_init("detector", config)
    config["detector"]["pretrained"] = None
    config["source"] = {**config["source"], "kind": "videos"}  # no labelme, no weights
    with pytest.raises(ValueError, match="no region segmenter"):
        model_init("detector", config)
    config["detector"]["weights"] = "given.pt"  # used as is: nothing trains
    assert model_init("detector", config) is None


def test_the_watermark_detector_trains_on_a_set_made_from_the_footage_without_one(tmp_path):
    from mosaicflow.config import validate_config
    from mosaicflow.plan import paths
    from mosaicflow.plan.run import Run
    from mosaicflow.plan.stages import yolo
    from mosaicflow.plan.yolo_models import model_dataset

    weights = tmp_path / "seg.pt"
    weights.write_bytes(b"x")

    def config(**sections) -> dict:
        out = {"source": {"kind": "videos", "videos": str(tmp_path)}, **sections}
        validate_config(out)
        return out

    assert model_dataset("watermark", config()) is None  # no segmenter: no clips to analyse
    with_clips = config(regions={"weights": str(weights)})
    assert model_dataset("watermark", with_clips) == paths.WATERMARK_SET
    never = config(regions={"weights": str(weights)}, watermark_set={"use": "never"})
    assert model_dataset("watermark", never) is None
    demo = {"profile": "demo"}
    validate_config(demo)
    assert model_dataset("watermark", demo) == paths.WORLD_WATERMARKS
    always = {"watermark_set": {"use": "always"}}
    validate_config(always)
    assert model_dataset("watermark", always) == paths.WATERMARK_SET
    run = Run.from_config(always)
    inputs = run.inputs(yolo).watermark_set_input(None)
    listed = run.inputs(yolo).watermark_set_params(None)
    assert len(inputs["videos"]) == len(inputs["indexes"]) == len(listed["ids"]) > 0
    assert "test" not in listed["roles"] and "val" in listed["roles"]
    fonts = run.inputs(yolo).watermark_set_fonts(None)
    assert fonts["latin"] and all(":" in name for name in fonts["latin"])


def test_a_disabled_watermark_detector_is_neither_trained_nor_read():
    from mosaicflow.config import validate_config
    from mosaicflow.plan.run import Run
    from mosaicflow.plan.stages import restoration
    from mosaicflow.plan.yolo_models import has_model, model_dataset

    demo = {"watermark": {"enabled": False}}
    validate_config(demo)
    assert model_dataset("watermark", demo) is None and not has_model("watermark", demo)
    given = {"watermark": {"enabled": False, "weights": __file__}}
    validate_config(given)
    assert not has_model("watermark", given)  # off wins over given weights
    run = Run.from_config(demo)
    assert "watermark" not in run.facts.models and "watermark" not in run.facts.trained_models
    assert {"region_seg", "detector"} <= run.facts.models
    clips = run.inputs(restoration)
    assert clips.clip_watermark_model(None) == {} and clips.clip_watermark_params(None) is None
    on = {}
    validate_config(on)
    assert Run.from_config(on).inputs(restoration).clip_watermark_model(None)


@pytest.mark.parametrize("profile", ["demo", "full"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_scripts_build_typed_jobs_from_builtin_params(name, profile):
    from mosaicflow.yolo.models import (
        evaluate_params,
        test_job_of,
        train_job,
        train_job_of,
        train_params,
    )
    from mosaicflow.yolo.spec import TrainSpec

    config = {"profile": profile}
    validate_config(config)
    # the rules' params are builtins (Snakemake's params trigger skips any other object)
    params = train_params(name, config)
    assert json.loads(json.dumps(params)) == params
    job = train_job_of(name, params)
    assert isinstance(job, TrainSpec) and job == train_job(name, config)
    # the card records the same keys and values the rule passed
    assert training_keys(name, job) == params
    test = evaluate_params(name, config)
    assert json.loads(json.dumps(test)) == test
    settings = test_job_of(name, test)
    assert isinstance(settings, MODELS[name].test_settings) and plain(settings) == test
    with pytest.raises(ValueError, match=rf"{name}: params lack the keys"):
        train_job_of(name, {k: v for k, v in params.items() if k != "epochs"})
