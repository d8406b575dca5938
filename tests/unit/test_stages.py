"""The stage table: every stage module has its parts, every rules file exists, ``rule all`` and
the metrics gathering are the union of the running stages, and bound input functions take the
wildcards alone (as Snakemake calls them)."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest

from mosaicflow.config import validate_config
from mosaicflow.plan import paths, stages
from mosaicflow.plan.run import Run, RunFacts

ROOT = Path(__file__).resolve().parents[2]


def _demo(**sections) -> dict:
    config = {"profile": "demo", **sections}
    validate_config(config)
    return config


def test_every_stage_module_is_in_the_table_and_every_rules_file_is_included():
    modules = sorted(p.stem for p in (ROOT / "src/mosaicflow/plan/stages").glob("*.py"))
    assert sorted(stages.STAGES) == [m for m in modules if m != "__init__"]
    for stage in stages.STAGES.values():
        assert callable(stage.enabled) and callable(stage.outputs) and callable(stage.metrics)
    included = (ROOT / "Snakefile").read_text()
    for rules in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        assert f'include: "workflow/rules/{rules.name}"' in included, rules.name
    named = {stage.name for stage in stages.STAGES.values()} | {"common", "label_issues"}
    assert {rules.stem for rules in (ROOT / "workflow" / "rules").glob("*.smk")} <= named


def test_the_demo_runs_every_stage_but_the_ones_it_switches_off():
    run = Run.of(_demo())
    running = {stage.name for stage in stages.running(run)}
    assert running == set(stages.STAGES) - {"shards", "quality"}
    outputs = stages.final_outputs(run)
    assert paths.METRICS in outputs and paths.WORLD_CONTACT_SHEET in outputs
    assert len(outputs) == len(set(outputs))
    gathered = list(stages.metrics_files(run))
    assert gathered[0] == "region_dataset" and gathered[-1] == "evaluate"


def test_a_stage_that_does_not_run_adds_no_target_and_no_metrics(tmp_path):
    weights = tmp_path / "g.pth"
    weights.write_bytes(b"x")
    run = Run.of(_demo(restoration={"weights": str(weights)}, label_issues={"enabled": False}))
    assert not run.facts.trains_restorer and run.facts.restorer == str(weights)
    assert not stages.STAGES["label_issues"].enabled(run)
    gathered = stages.metrics_files(run)
    assert "label_issues" not in gathered and "restoration_stage1" not in gathered
    assert paths.restoration_files()["weights"] not in stages.final_outputs(run)
    assert paths.LABEL_ISSUES not in stages.final_outputs(run)


def test_the_facts_of_user_videos_without_labels_or_weights():
    facts = RunFacts.of(_demo(source={"kind": "videos", "videos": str(ROOT)}))
    assert not facts.demo and not facts.labelme_train
    assert facts.models == frozenset() and facts.restorer is None
    assert not (facts.scores_quality or facts.reviews_clips or facts.finds_label_issues)


def test_bound_functions_take_the_wildcards_alone():
    run = Run.of(_demo())
    bound = run.inputs(stages.yolo).model_calibration
    assert list(inspect.signature(bound).parameters) == ["wildcards"]
    assert bound.__name__ == "model_calibration" and "threshold" in bound.__doc__
    calibration = bound(SimpleNamespace(model="detector"))
    assert calibration["clean_test"] and all("world-test-" in v for v in calibration["clean_test"])
    with pytest.raises(AttributeError, match="not a function"):
        run.inputs(stages.yolo).MODELS  # noqa: B018
