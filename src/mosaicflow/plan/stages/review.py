"""Clip review (``review.smk``, rules ``score_clips``, ``rank_clips``, ``export_review``):
signals of every clip, the clips ranked by how likely they are bad, and the export to review."""

from __future__ import annotations

import os
from typing import Any

from mosaicflow import installed
from mosaicflow.plan import paths
from mosaicflow.plan.run import Run
from mosaicflow.yolo import bases


def enabled(run: Run) -> bool:
    """The clips are cut from the region segmenter's output."""
    return run.facts.reviews_clips


def outputs(run: Run) -> list[str]:
    """The clip ranking, its scores on the demo truth, the export and its sheet."""
    return [paths.REVIEW_RANKED, paths.REVIEW_METRICS, paths.REVIEW_EXPORT, paths.REVIEW_SHEET]


def metrics(run: Run) -> dict[str, str]:
    """The ranking's scores."""
    return {"clip_review": paths.REVIEW_METRICS}


# -- input and params functions of the rules ------------------------------------------------
def score_clips_input(run: Run, wildcards: Any) -> dict[str, str]:
    """What rule score_clips reads for a video: its clip manifest and region table, the demo
    truth (demo world), the source video (second opinion on; the installed nudenet model is a
    param) and the region segmenter (contrast check on)."""
    video = run.videos[wildcards.video]
    inputs = {
        "manifest": paths.restoration_manifest(video.id),
        "regions": paths.region_files(video.id)["regions"],
    }
    if run.facts.demo:
        inputs["truth"] = paths.world_files(video.name)["truth"]
    review = run.config["review"]
    if review["nudenet"]["enabled"]:
        inputs["video"] = video.path
    if review["contrast_check"]["enabled"]:
        inputs["video"] = video.path
    return {**inputs, **contrast_segmenter(run, wildcards)}


def contrast_segmenter(run: Run, wildcards: Any) -> dict[str, str]:
    """The region segmenter the contrast check runs on every clip (when it is on)."""
    if run.config["review"]["contrast_check"]["enabled"]:
        return {"segmenter": paths.model_files("region_seg")["weights"]}
    return {}


def nudenet_model(run: Run, wildcards: Any) -> dict[str, str] | None:
    """The nudenet detector the second opinion runs, as a reference by place and content
    (:mod:`mosaicflow.installed`), when the second opinion is on; else None."""
    if not run.config["review"]["nudenet"]["enabled"]:
        return None
    return installed.reference(bases.nudenet_onnx(), bases.NUDENET_PACKAGE)


def review_verdicts(run: Run, wildcards: Any) -> dict[str, str]:
    """The review verdicts (``mosaicflow review import``), when there are any."""
    if os.path.exists(paths.REVIEW_VERDICTS):
        return {"verdicts": paths.REVIEW_VERDICTS}
    return {}
