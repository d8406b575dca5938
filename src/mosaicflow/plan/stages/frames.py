"""Frames (``frames.smk``): each source video probed, decoded and indexed, or rejected."""

from __future__ import annotations

from typing import Any

from mosaicflow.plan import paths
from mosaicflow.plan.run import Run


def enabled(run: Run) -> bool:
    """Always: every run reads its videos."""
    return True


def outputs(run: Run) -> list[str]:
    """Every video's frame index and the table of rejected videos."""
    return [paths.frames_files(vid)["index"] for vid in run.videos] + [paths.REJECTED]


def split_roles(run: Run) -> dict[str, str]:
    """Video id -> split for the videos whose role is a split (train, val or test)."""
    return {v.id: v.role for v in run.videos.values() if v.role in ("train", "val", "test")}


# -- input and params functions of the rules (other stages' rules read the sources too) --------
def source_video(run: Run, wildcards: Any) -> str:
    """The input video file of a video id."""
    return run.videos[wildcards.video].path


def source_name(run: Run, wildcards: Any) -> str:
    """A source video's path in its sheet or folder (or its demo-world name)."""
    return run.videos[wildcards.video].name


def frames_probes(run: Run, wildcards: Any) -> list[str]:
    """The probe (or rejection record) of every source video."""
    return [paths.frames_files(vid)["probe"] for vid in run.videos]


def video_split_roles(run: Run, wildcards: Any) -> dict[str, str]:
    """Video id -> split for the videos whose role fixes their split (the demo world's)."""
    return split_roles(run)
