"""Rank every kept clip of the videos that are not dropped duplicates by how likely it is false;
score the ranking on the demo truth (rule rank_clips)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.curate.clip_jobs import rank_dataset
from mosaicflow.curate.config import ReviewConfig
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
verdicts = snakemake.input.get("verdicts")
duplicates = snakemake.input.get("duplicates")
summary = rank_dataset(
    [Path(p) for p in snakemake.input.signals],
    Path(verdicts) if verdicts else None,
    build(ReviewConfig, snakemake.params.review),
    Path(snakemake.output.ranked),
    Path(snakemake.output.metrics),
    seed=snakemake.params.seed,
    duplicates=Path(duplicates) if duplicates else None,
    code=snakemake.params.code,
)
log.info("%s", summary)
