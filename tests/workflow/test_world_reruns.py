"""A change to one world video reruns that video's jobs and what it feeds, nothing else; a
change to a key that only an aggregate reads reruns no per-video job."""

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
        # its clips, detection samples and mosaicked copy, the dataset aggregates and the
        # evaluation; KNOWN LIMITATION: the detector and the restorer read whole-dataset outputs
        # (all splits), so a test video's change still retrains them (see the stop note)
        "build_restoration_clips", "index_restoration_dataset", "draw_restoration_sheets",
        "evaluate_restoration_dataset", "build_detection_samples", "build_detection_dataset",
        "build_detection_testset", "train_model", "train_restoration_stage1",
        "convert_restoration", "train_restoration_stage2", "export_restoration",
        "restore_test_video", "evaluate_restoration", "plot_training_curves", "gather_metrics",
        # the sampling weights of the training images and clips (whole-dataset tables)
        "balance_detection", "balance_clips",
        # its clips' signals, the ranking over all clips and the review export
        "score_clips", "rank_clips", "export_review",
        # the duplicate search over all videos' frame signatures
        "find_duplicates",
        # the clips' source quality against the degraded scenes of the truth
        "evaluate_source_quality",
    }  # fmt: skip
    assert "train_quality_classifier" not in jobs  # it trains on the train videos only
    assert set(jobs) <= aggregates, jobs
    # a video's signals are redone exactly when its clips are (every clip job reads the
    # gathered region summary, so they all follow a change of any video's regions)
    assert jobs.get("score_clips", 0) == jobs.get("build_restoration_clips", 0)
    assert jobs.get("train_model", 0) <= 1  # the detector only: never the region models
    for trains in ("write_world_labelme", "write_world_watermarks", "build_region_dataset"):
        assert trains not in jobs


def test_a_quality_video_feeds_only_the_source_quality_scores(demo_results, tmp_path):
    jobs = plan_with_override(demo_results, tmp_path, "world-quality-03")
    assert jobs.pop("render_world_video") == 1
    assert jobs.pop("score_quality_scenes") == 1
    assert jobs.pop("evaluate_source_quality") == 1
    assert set(jobs) <= {"gather_metrics", "all"}, jobs


def test_train_video_change_also_rebuilds_what_it_feeds(demo_results, tmp_path):
    jobs = plan_with_override(demo_results, tmp_path, "world-train-02")
    assert jobs["render_world_video"] == 1
    assert jobs["extract_frames"] == 1
    assert jobs["find_duplicates"] == 1
    assert jobs["write_world_labelme"] == 1  # the train split only, not val
    assert jobs["write_world_watermarks"] == 1
    # the models it trains are retrained, so every video's regions are redone
    assert jobs["build_region_dataset"] == 1
    # the region segmenter and the watermark detector, and the mosaic detector whose dataset
    # pixelates the regions the new segmenter finds
    assert jobs["train_model"] == 3
    assert jobs["infer_regions"] == len(list((demo_results / "frames").glob("*/index.parquet")))


def test_split_sheet_and_ranking_keys_rerun_no_per_video_job(demo_results, tmp_path):
    # the per-video samples, clips and clip signals get only the keys they read: the split by
    # video, the contact sheets and the review's ranking and export keys redo the aggregates,
    # and the test videos' mosaic seed their mosaicked copies, not the work on every video
    aggregate = tmp_path / "aggregate.yaml"
    aggregate.write_text(
        "detection_dataset:\n  split: {val: 0.3, test: 0.3}\n  test_seed: 5\n"
        "restoration_dataset:\n  split: {val: 0.3, test: 0.3}\n  sheet_clips: 3\n"
        "review:\n  top_k: 7\n  folds: 3\n"
    )
    jobs = planned_jobs(run_snakemake(demo_results.parent, "-n", configfiles=[aggregate]).stdout)
    per_video = {"extract_frames", "infer_regions", "score_clips", "build_detection_samples",
                 "build_restoration_clips"}  # fmt: skip
    assert not per_video & set(jobs), jobs
    assert {"build_detection_dataset", "build_detection_testset", "rank_clips"} <= set(jobs)
    assert {"index_restoration_dataset", "draw_restoration_sheets"} <= set(jobs), jobs
    # the evaluation's sample video and grid redo the evaluation, not the test videos' restores
    report = tmp_path / "report.yaml"
    report.write_text("evaluate:\n  grid_frames: 3\n  sample_seconds: 1.5\n")
    jobs = planned_jobs(run_snakemake(demo_results.parent, "-n", configfiles=[report]).stdout)
    assert jobs.pop("evaluate_restoration") == 1
    assert set(jobs) <= {"gather_metrics", "all"}, jobs
    # a key the per-video samples do read still redoes them on every video
    sampling = tmp_path / "sampling.yaml"
    sampling.write_text("detection_dataset:\n  hard_negatives: 0.5\n")
    jobs = planned_jobs(run_snakemake(demo_results.parent, "-n", configfiles=[sampling]).stdout)
    videos = len(list((demo_results / "detection_samples").glob("*.json")))
    assert videos > 0 and jobs.get("build_detection_samples") == videos, jobs
