"""Regions (``regions.smk``): the region segmenter's training set from labelme polygons, its
regions on every source video, the inferred truth of a user's held-out videos, the summary of
all videos and the least-confident frames for labelling."""

from __future__ import annotations

import os
from typing import Any

from mosaicflow.plan import paths
from mosaicflow.plan.folder_inputs import labelme_files
from mosaicflow.plan.run import Run
from mosaicflow.plan.sources import SourceVideo


def enabled(run: Run) -> bool:
    """There are labelme polygons to train on or a region segmenter to run."""
    return run.facts.labelme_train or "region_seg" in run.facts.models


def outputs(run: Run) -> list[str]:
    """The region dataset (with labelme training folders); with a region segmenter every
    video's regions, their summary and the pre-labelled frames (``regions.prelabel_frames``)."""
    files = [paths.REGION_DATASET] if run.facts.labelme_train else []
    if "region_seg" in run.facts.models:
        files += [paths.region_files(vid)["regions"] for vid in run.videos]
        files.append(paths.REGION_SUMMARY)
        if run.config["regions"]["prelabel_frames"] > 0:
            files.append(paths.PRELABEL_DIR)
    return files


def metrics(run: Run) -> dict[str, str]:
    """The region dataset's folder (its provenance holds its figures)."""
    return {"region_dataset": paths.REGION_DATASET} if run.facts.labelme_train else {}


def feeds_datasets(run: Run) -> bool:
    """Whether a dataset is built from the inferred regions (not from the demo truth)."""
    return any(
        run.config[section]["regions"] == "inferred"
        for section in ("detection_dataset", "restoration_dataset")
    )


def region_inputs(run: Run, section: str, video: SourceVideo) -> dict[str, str]:
    """The regions a stage of ``section`` (``detection_dataset``, ``restoration_dataset``) reads
    for ``video``: its ``regions.parquet`` or, with ``<section>.regions: truth``, the demo
    world's truth mask video.

    Raises:
        ValueError: ``truth`` with videos that are not the demo world's.
    """
    if run.config[section]["regions"] == "inferred":
        # the summary of all videos: its rule stops the run when no video has a region
        return {
            "regions": paths.region_files(video.id)["regions"],
            "region_summary": paths.REGION_SUMMARY,
        }
    if not run.facts.demo:
        raise ValueError(
            f"config key '{section}.regions': 'truth' needs source.kind 'demo' (user "
            "videos have no ground truth); use 'inferred'"
        )
    return {"truth": paths.world_files(video.name)["truth"]}


# -- input and params functions of the rules ------------------------------------------------
def region_labelme_dirs(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """Labelme folders of the region segmenter: ``{"train": [...], "val": [...]}``."""
    return paths.region_labelme_dirs(run.config)


def region_labelme_files(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """The user's labelme JSON files and their images, so that a file edited in place reruns
    the region dataset (:mod:`mosaicflow.plan.folder_inputs`); the demo's folders are outputs
    of its own rules."""
    return {"labelme_files": labelme_inputs(run, ("train", "val"))}


def labelme_inputs(run: Run, splits: tuple[str, ...]) -> list[str]:
    """The labelme files of the user's folders of ``splits`` (none on the demo world)."""
    if run.facts.demo:
        return []
    dirs = paths.region_labelme_dirs(run.config)
    return [
        file for split in splits for folder in dirs.get(split, []) for file in labelme_files(folder)
    ]


def label_overrides(run: Run, wildcards: Any) -> dict[str, str]:
    """The labelme frames corrected in review (``mosaicflow review import-labels``), when any."""
    overrides = f"{paths.LABEL_OVERRIDES}/overrides.json"
    return {"overrides": overrides} if os.path.exists(overrides) else {}


def test_truth_input(run: Run, wildcards: Any) -> dict[str, str]:
    """A user's held-out video and the region segmenter that infers its truth."""
    return {
        "video": run.videos[wildcards.video].path,
        "model": paths.model_files("region_seg")["weights"],
    }


def region_summaries(run: Run, wildcards: Any) -> list[str]:
    """The per-video region summaries of every source video."""
    return [paths.region_files(vid)["summary"] for vid in run.videos]


def prelabel_input(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """Region tables and videos of every source video, for the least-confident frames."""
    return {
        "regions": [paths.region_files(vid)["regions"] for vid in run.videos],
        "videos": [video.path for video in run.videos.values()],
    }


def tag_model(run: Run, wildcards: Any) -> dict[str, str] | None:
    """The nudenet detector that tags the clips' and samples' regions (``tags``), as a
    reference by place and content (:mod:`mosaicflow.installed`) when tagging is on; else
    None."""
    from mosaicflow import installed
    from mosaicflow.yolo import bases

    if not run.config["tags"]["enabled"]:
        return None
    return installed.reference(bases.nudenet_onnx(), bases.NUDENET_PACKAGE)


def censor_model(run: Run, wildcards: Any) -> dict[str, str]:
    """The censor filter's mosaic detector (``censor.detector``) as an input of the jobs that
    look for already censored regions, when the filter is on and one is given."""
    censor = run.config["censor"]
    if censor["enabled"] and censor["detector"]:
        return {"censor": str(censor["detector"])}
    return {}
