"""A change to one world video reruns that video's jobs and what it feeds, nothing else."""

from __future__ import annotations

import pytest

from tests.helpers import planned_jobs, run_snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.demo]


def plan_with_override(demo_results, tmp_path, name: str) -> dict[str, int]:
    override = tmp_path / "override.yaml"
    override.write_text(f"world:\n  videos:\n    {name}:\n      seconds: 11\n")
    proc = run_snakemake(demo_results.parent, "-n", configfiles=[override])
    return planned_jobs(proc.stdout)


def test_demo_run_is_complete(demo_results):
    proc = run_snakemake(demo_results.parent, "-n")
    assert planned_jobs(proc.stdout) == {}


def test_test_video_change_reruns_only_its_jobs_and_aggregates(demo_results, tmp_path):
    jobs = plan_with_override(demo_results, tmp_path, "world-test-01")
    assert jobs.pop("render_world_video") == 1
    assert jobs.pop("extract_frames") == 1
    assert jobs.pop("infer_regions") == 1  # its own regions only
    # aggregates over all videos and the test metrics; nothing that trains on train/val videos
    aggregates = {
        "draw_world_contact_sheet", "gather_rejected", "gather_regions", "prelabel_uncertain",
        "evaluate_model", "all",
    }  # fmt: skip
    assert set(jobs) <= aggregates, jobs
    for trains in ("write_world_labelme", "write_world_watermarks", "build_region_dataset",
                   "train_model"):  # fmt: skip
        assert trains not in jobs


def test_train_video_change_also_rebuilds_what_it_feeds(demo_results, tmp_path):
    jobs = plan_with_override(demo_results, tmp_path, "world-train-02")
    assert jobs["render_world_video"] == 1
    assert jobs["extract_frames"] == 1
    assert jobs["write_world_labelme"] == 1  # the train split only, not val
    assert jobs["write_world_watermarks"] == 1
    # the models it trains are retrained, so every video's regions are redone
    assert jobs["build_region_dataset"] == 1
    assert jobs["train_model"] == 2  # the region segmenter and the watermark detector
    assert jobs["infer_regions"] == len(list((demo_results / "frames").glob("*/index.parquet")))
