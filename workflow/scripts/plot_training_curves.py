"""Plot one model's training curve from its logged scalars (rule plot_training_curves)."""

from pathlib import Path

from mosaicflow.evaluation.curves import plot_training_curve
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
work = snakemake.params.work
out = plot_training_curve(
    snakemake.wildcards.curve,
    Path(snakemake.input.record),
    Path(snakemake.output[0]),
    work_root=Path(work) if work else None,
)
log.info("%s", out)
