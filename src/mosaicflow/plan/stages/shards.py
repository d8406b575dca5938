"""Shards (``shards.smk``): the datasets as WebDataset tar shards, when ``shards.*`` asks."""

from __future__ import annotations

from mosaicflow.plan import paths
from mosaicflow.plan.run import Run


def enabled(run: Run) -> bool:
    """A shard folder is asked for and its dataset is built."""
    return bool(outputs(run))


def outputs(run: Run) -> list[str]:
    """The shard folders ``shards.detection`` / ``shards.clips`` ask for."""
    files: list[str] = []
    if run.config["shards"]["detection"] and "detector" in run.facts.trained_models:
        files.append(paths.shard_dir("detection"))
    if run.config["shards"]["clips"] and "region_seg" in run.facts.models:
        files.append(paths.shard_dir("clips"))
    return files
