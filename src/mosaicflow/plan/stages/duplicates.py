"""Duplicates (``duplicates.smk``): groups of videos and scenes that are copies of each other,
read by the splits and the review; it has no target of its own."""

from __future__ import annotations

from typing import Any

from mosaicflow.plan import paths
from mosaicflow.plan.run import Run


def enabled(run: Run) -> bool:
    """``duplicates.enabled``."""
    return bool(run.config["duplicates"]["enabled"])


def outputs(run: Run) -> list[str]:
    """None: the groups are built when a stage reads them."""
    return []


# -- input functions of other stages' rules -----------------------------------------------------
def duplicate_groups(run: Run, wildcards: Any) -> dict[str, str]:
    """The duplicate groups of all videos (rule find_duplicates), when duplicates are on."""
    return {"duplicates": paths.DUPLICATES} if enabled(run) else {}
