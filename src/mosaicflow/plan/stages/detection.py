"""The mosaic detection dataset (``detection.smk``): synthetic mosaics over each video's regions,
the dataset of all videos, and the held-out videos with mosaics on every frame that the
detector and the evaluation are scored on."""

from __future__ import annotations

from typing import Any

from mosaicflow.plan import paths
from mosaicflow.plan.run import Run
from mosaicflow.plan.stages import frames, regions, yolo


def builds_dataset(run: Run) -> bool:
    """The detector trains here on a dataset this stage builds."""
    return "detector" in run.facts.trained_models


def enabled(run: Run) -> bool:
    """There are regions to pixelate or a detector to score."""
    return builds_dataset(run) or "detector" in run.facts.models


def outputs(run: Run) -> list[str]:
    """The dataset when there are regions to pixelate, and the mosaicked test videos (the
    detector's test) when there is a detector."""
    files = [paths.DETECTION_DATASET] if builds_dataset(run) else []
    if "detector" in run.facts.models:
        files += yolo.test_items(run, "detector")
    return files


def metrics(run: Run) -> dict[str, str]:
    """The dataset's folder (its provenance holds its figures)."""
    return {"detection_dataset": paths.DETECTION_DATASET} if builds_dataset(run) else {}


# -- input and params functions of the rules ------------------------------------------------
def detection_sample_input(run: Run, wildcards: Any) -> dict[str, str]:
    """The regions one video's samples pixelate (its regions.parquet or the demo truth)."""
    return regions.region_inputs(run, "detection_dataset", run.videos[wildcards.video])


def detection_samples(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """The sample folders and manifests of every source video."""
    files = [paths.detection_samples(vid) for vid in run.videos]
    return {"dirs": [f["dir"] for f in files], "manifests": [f["manifest"] for f in files]}


def detection_roles(run: Run, wildcards: Any) -> dict[str, str] | None:
    """Video id -> role, which the split follows (every demo-world video but the re-uploads,
    and the user's videos that a sheet gives one); None when no video has one (all are split
    by ``detection_dataset.split``)."""
    return frames.split_roles(run) or None


def detection_testset_input(run: Run, wildcards: Any) -> dict[str, str]:
    """A held-out video and its truth (the demo's, or the one its segmenter infers)."""
    held = run.held_out_video(wildcards.name)
    return {"video": held.video, "truth": held.truth, "truth_json": held.truth_json}
