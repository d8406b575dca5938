"""Sampling weights of the restoration dataset's training clips (rule balance_clips)."""

from pathlib import Path

from mosaicflow.datasets.balance.jobs import balance_clips, settings
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
result = balance_clips(
    Path(snakemake.input.index),
    settings(snakemake.params.balance, "clip_levels", snakemake.input.get("rules")),
    Path(snakemake.output.weights),
    Path(snakemake.output.buckets),
)
log.info("restoration clips: %s", result)
