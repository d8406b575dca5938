"""The evaluate section's dataclass matches the schema; the evaluation targets per config."""

from __future__ import annotations

import pytest

from mosaicflow.config import (
    build,
    contract_mismatches,
    load_schema,
    schema_section,
    validate_config,
)
from mosaicflow.evaluation.config import EvaluateConfig
from mosaicflow.workflow import paths, targets


def _config(**sections):
    config = {"profile": "demo", **sections}
    validate_config(config)
    return config


def test_dataclass_matches_schema():
    section = schema_section(load_schema(), "evaluate")
    assert contract_mismatches(EvaluateConfig, section) == []


def test_defaults_build_restore_settings():
    cfg = build(EvaluateConfig, _config()["evaluate"])
    settings = cfg.restore_settings()
    assert settings.max_clip_frames == cfg.max_clip_frames and settings.crf == cfg.crf
    assert cfg.roles == ("test",)


def test_demo_targets_restore_and_score_the_test_videos():
    config = _config()
    specs = targets.world_specs(config)
    names = targets.evaluation_names(config, specs)
    assert names and all(name.startswith("world-test-") for name in names)
    outputs = targets.evaluation_outputs(config, specs)
    for name in names:
        assert set(paths.evaluate_files(name).values()) <= set(outputs)
    for path in (
        paths.EVALUATE_METRICS,
        paths.EVALUATE_TABLE,
        paths.EVALUATE_SIDE_BY_SIDE,
        paths.EVALUATE_GRID,
        paths.METRICS,
    ):
        assert path in outputs
    curves = {m: paths.training_curve(m) for m in targets.curve_models(config)}
    assert set(curves) == {"region_seg", "watermark", "detector", "restoration"}
    assert set(curves.values()) <= set(outputs)
    assert set(outputs) <= set(targets.final_outputs(config, [], specs))
    stages = targets.metrics_stages(config, specs)
    assert {
        "region_seg",
        "watermark",
        "detector",
        "restoration_stage1",
        "restoration_stage2",
        "restoration_dataset",
        "detection_dataset",
        "region_dataset",
        "evaluate",
    } == set(stages)
    assert stages["evaluate"] == paths.EVALUATE_METRICS


def test_roles_select_the_videos():
    config = _config(evaluate={"roles": ["val", "test"]})
    names = targets.evaluation_names(config, targets.world_specs(config))
    assert any(n.startswith("world-val-") for n in names)
    assert any(n.startswith("world-test-") for n in names)


def test_given_restorer_weights_are_used_and_not_plotted(tmp_path):
    weights = tmp_path / "gen.pth"
    weights.write_bytes(b"x")
    config = _config(restoration={"weights": str(weights)})
    assert targets.restorer_weights(config) == str(weights)
    assert "restoration" not in targets.curve_models(config)
    stages = targets.metrics_stages(config, targets.world_specs(config))
    assert "restoration_stage1" not in stages and "evaluate" in stages


def test_user_videos_have_no_evaluation_but_metrics(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    config = _config(source={"kind": "videos", "videos": str(videos)})
    specs = targets.world_specs(config)
    assert targets.evaluation_names(config, specs) == []
    outputs = targets.evaluation_outputs(config, specs)
    assert paths.EVALUATE_METRICS not in outputs and paths.METRICS in outputs
    assert "evaluate" not in targets.metrics_stages(config, specs)


@pytest.mark.parametrize("model", ["region_seg", "restoration"])
def test_curve_records(model):
    record = targets.curve_record(model)
    assert record.endswith("train.json" if model == "region_seg" else "restoration/model.json")
