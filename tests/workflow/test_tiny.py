"""The tiny config runs end to end and is deterministic: same config, same bytes."""

from __future__ import annotations

import pytest

from tests.helpers import REPO, digest_tree, planned_jobs, run_snakemake

pytestmark = pytest.mark.workflow

TINY = REPO / "config" / "test-tiny.yaml"


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    runs = []
    for name in ("first", "second"):
        workdir = tmp_path_factory.mktemp(name)
        run_snakemake(workdir, configfiles=[TINY])
        runs.append(workdir)
    return runs


def test_tiny_run_builds_every_target(tiny_runs):
    results = tiny_runs[0] / "results"
    assert (results / "world" / "contact_sheet.png").is_file()
    assert len(list((results / "frames").glob("*/index.parquet"))) == 3
    assert (results / "rejected.tsv").read_text().startswith("video\tpath\treason")
    assert planned_jobs(run_snakemake(tiny_runs[0], "-n", configfiles=[TINY]).stdout) == {}


def test_same_config_gives_same_bytes(tiny_runs):
    first, second = (digest_tree(run / "results") for run in tiny_runs)
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []
    assert len(first) > 20
    # epoch budgets, not the clock: two trainings give the same weights, byte for byte
    for model in ("region_seg", "watermark"):
        assert {f"models/{model}/best.pt", f"models/{model}/best.onnx"} <= first.keys()


def test_inference_key_change_reruns_inference_not_training(tiny_runs, tmp_path):
    # each rule gets only the keys it reads: a new confidence threshold redoes the inference
    infer = tmp_path / "infer.yaml"
    infer.write_text("regions:\n  conf: 0.3\n  tracker: botsort.yaml\nwatermark:\n  conf: 0.4\n")
    jobs = planned_jobs(run_snakemake(tiny_runs[0], "-n", configfiles=[TINY, infer]).stdout)
    assert jobs.pop("infer_regions") == 3
    assert set(jobs) <= {"gather_regions", "prelabel_uncertain", "all"}, jobs
    # a training key retrains (and re-evaluates) that model only
    train = tmp_path / "train.yaml"
    train.write_text("regions:\n  epochs: 3\n")
    jobs = planned_jobs(run_snakemake(tiny_runs[0], "-n", configfiles=[TINY, train]).stdout)
    assert jobs["train_model"] == jobs["evaluate_model"] == 1
