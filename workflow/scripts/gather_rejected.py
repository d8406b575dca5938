"""Gather the videos that could not be decoded into results/rejected.tsv (rule gather_rejected)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.video.frames import write_rejected_table

log = setup(snakemake)
count = write_rejected_table([Path(p) for p in snakemake.input.probes], Path(snakemake.output[0]))
log.info("%d rejected video(s)", count)
