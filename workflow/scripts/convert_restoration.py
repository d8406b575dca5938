"""Stage-1 generator -> stage-2 initial model: generator, EMA generator, fresh discriminator
(rule convert_restoration)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.restore.config import job_of
from mosaicflow.restore.jobs import run_convert

log = setup(snakemake)
out = run_convert(
    job_of("convert", snakemake.params.restoration),
    Path(snakemake.input.stage1),
    Path(snakemake.output.init),
    seed=snakemake.params.seed,
)
log.info("wrote %s", out)
