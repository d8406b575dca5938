"""Label issues (``review.smk``, rule ``find_label_issues``): labelme frames whose polygons the
region segmenter disagrees with, ranked, with the flagged ones exported for review."""

from __future__ import annotations

from typing import Any

from mosaicflow.plan import paths
from mosaicflow.plan.run import Run
from mosaicflow.plan.stages.regions import label_overrides, labelme_inputs


def enabled(run: Run) -> bool:
    """``label_issues.enabled``, a region segmenter and labelme training folders."""
    return run.facts.finds_label_issues


def outputs(run: Run) -> list[str]:
    """The ranked labelme frames, the flagged ones for review, their metrics and sheet."""
    return [
        paths.LABEL_ISSUES,
        paths.LABEL_ISSUES_EXPORT,
        paths.LABEL_ISSUES_METRICS,
        paths.LABEL_ISSUES_SHEET,
    ]


def metrics(run: Run) -> dict[str, str]:
    """The ranking's scores against the injected errors (demo) or its counts."""
    return {"label_issues": paths.LABEL_ISSUES_METRICS}


# -- input functions of the rules -------------------------------------------------------------
def label_issue_inputs(run: Run, wildcards: Any) -> dict[str, Any]:
    """The labelme training folders (and a user's files in them), the region segmenter, on the
    demo world the label errors it injected, and the frames corrected in review."""
    inputs: dict[str, Any] = {
        "labelme": paths.region_labelme_dirs(run.config)["train"],
        "labelme_files": labelme_inputs(run, ("train",)),
        "model": paths.model_files("region_seg")["weights"],
    }
    if run.facts.demo:
        inputs["errors"] = paths.world_label_errors("train")
    return {**inputs, **label_overrides(run, wildcards)}
