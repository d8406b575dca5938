"""The evaluate section's dataclass matches the schema; the evaluation targets per config."""

from __future__ import annotations

from types import SimpleNamespace  # Snakemake's wildcards: attributes

import pytest

from mosaicflow.config import (
    build,
    contract_mismatches,
    load_schema,
    schema_section,
    validate_config,
)
from mosaicflow.evaluation.config import EvaluateConfig
from mosaicflow.plan import paths, stages
from mosaicflow.plan.run import HeldOutVideo, Run
from mosaicflow.plan.sources import read_sheet
from mosaicflow.plan.stages import detection, evaluation, yolo


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
    encoder = settings.encoder_settings()  # the byte-identical encode the figures rest on
    assert encoder.reproducible and encoder.codec == "libx264"
    assert cfg.roles == ("test",)


def test_demo_targets_restore_and_score_the_test_videos():
    config = _config()
    run = Run.of(config)
    names = evaluation.evaluation_names(run)
    assert names and all(name.startswith("world-test-") for name in names)
    outputs = evaluation.outputs(run)
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
    curves = {m: paths.training_curve(m) for m in evaluation.curve_models(run)}
    assert set(curves) == {"region_seg", "watermark", "detector", "restoration"}
    assert set(curves.values()) <= set(outputs)
    assert set(outputs) <= set(stages.final_outputs(run))
    gathered = stages.metrics_files(run)
    assert {
        "region_seg",
        "watermark",
        "detector",
        "restoration_stage1",
        "restoration_stage2",
        "restoration_dataset",
        "detection_dataset",
        "region_dataset",
        "clip_review",
        "label_issues",
        "evaluate",
    } == set(gathered)
    assert gathered["evaluate"] == paths.EVALUATE_METRICS


def test_roles_select_the_videos():
    config = _config(evaluate={"roles": ["val", "test"]})
    names = evaluation.evaluation_names(Run.of(config))
    assert any(n.startswith("world-val-") for n in names)
    assert any(n.startswith("world-test-") for n in names)


def test_given_restorer_weights_are_used_and_not_plotted(tmp_path):
    weights = tmp_path / "gen.pth"
    weights.write_bytes(b"x")
    config = _config(restoration={"weights": str(weights)})
    run = Run.of(config)
    assert run.facts.restorer == str(weights)
    assert "restoration" not in evaluation.curve_models(run)
    gathered = stages.metrics_files(run)
    assert "restoration_stage1" not in gathered and "evaluate" in gathered


def test_user_videos_without_a_segmenter_have_no_evaluation_but_metrics(tmp_path):
    config, videos = _user_videos(tmp_path)
    assert evaluation.evaluation_names(Run.of(config, videos))  # with the segmenter: evaluated
    config = {**config, "regions": {**config["regions"], "weights": None}}
    # no segmenter (no labelme polygons either): no truth to score the test video against
    run = Run.of(config, videos)
    assert evaluation.evaluation_names(run) == []
    assert yolo.test_items(run, "detector") == []
    outputs = evaluation.outputs(run)
    assert paths.EVALUATE_METRICS not in outputs and paths.METRICS in outputs
    assert "evaluate" not in stages.metrics_files(run)


def _user_videos(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    lines = ["path\trole"]
    for name, role in (("a.mp4", "train"), ("b.mp4", "val"), ("c.mp4", "test"), ("d.mp4", "")):
        (root / name).write_bytes(b"x")
        lines.append(f"{name}\t{role}")
    sheet = root / "sheet.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"x")
    config = _config(
        source={"kind": "videos", "videos": str(sheet)},
        regions={"weights": str(weights)},
        detector={"weights": str(weights), "max_fp_rate": 0.01},
        restoration={"weights": str(weights)},
    )
    return config, read_sheet(sheet)


def test_user_test_videos_get_the_held_out_evaluation(tmp_path):
    config, videos = _user_videos(tmp_path)
    by_role = {v.role: v for v in videos}
    test = by_role["test"]
    truth = paths.test_truth_files(test.id)
    run = Run.of(config, videos)
    names = evaluation.evaluation_names(run)
    assert names == [test.id]
    items = evaluation.evaluation_items(run.evaluated())
    assert items["originals"] == [test.path]
    assert items["mosaics"] == [paths.detection_testset_files(test.id)["video"]]
    assert run.held_out_video(test.id) == HeldOutVideo(
        test.id, test.path, truth["truth"], truth["truth_json"]
    )
    mosaicked = paths.detection_testset_files(test.id)
    assert yolo.test_items(run, "detector") == [
        mosaicked["video"], mosaicked["truth"], mosaicked["truth_json"]
    ]  # fmt: skip
    # the segmenter and the watermark detector have no truth to be scored against
    assert yolo.test_items(run, "region_seg") == []
    calibration = yolo.model_calibration(run, SimpleNamespace(model="detector"))
    assert calibration["clean_test"] == [test.path]
    assert calibration["clean_val"] == [by_role["val"].path]
    assert calibration["val_items"][0] == paths.detection_testset_files(by_role["val"].id)["video"]
    outputs = stages.final_outputs(run)
    assert set(paths.evaluate_files(test.id).values()) <= set(outputs)
    assert mosaicked["video"] in outputs and paths.EVALUATE_GRID in outputs
    assert stages.metrics_files(run)["evaluate"] == paths.EVALUATE_METRICS
    # the detection split follows the sheet's roles; the unlabelled video is shared out
    roles = detection.detection_roles(run, SimpleNamespace())
    assert roles == {by_role[r].id: r for r in ("train", "val", "test")}


def test_user_evaluation_roles_select_the_videos(tmp_path):
    config, videos = _user_videos(tmp_path)
    config = {**config, "evaluate": {**config["evaluate"], "roles": ["val", "test"]}}
    run = Run.of(config, videos)
    names = evaluation.evaluation_names(run)
    assert names == [v.id for v in videos if v.role in ("val", "test")]
    with pytest.raises(KeyError, match="nope"):
        run.held_out_video("nope")


@pytest.mark.parametrize("model", ["region_seg", "restoration"])
def test_curve_records(model):
    record = evaluation.curve_record(model)
    assert record.endswith("train.json" if model == "region_seg" else "restoration/model.json")
