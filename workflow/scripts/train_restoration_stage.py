"""One stage of the restoration model on the clip dataset, resumable from its work folder (rules
train_restoration_stage1: the pixel loss; train_restoration_stage2: pixel + perceptual + GAN
losses with an EMA generator, started from stage 1's converted weights)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.plan.runtime import runtime_setting, setup
from mosaicflow.restore.config import job_of
from mosaicflow.restore.jobs import run_stage

# DataLoader workers (restoration.num_workers) are spawned and import this script again:
# the guard keeps them from running the stage.
if __name__ == "__main__":
    log = setup(snakemake)
    stage, inputs = snakemake.params.stage, snakemake.input
    result = run_stage(
        job_of(stage, snakemake.params.restoration),
        build(MosaicConfig, snakemake.params.mosaic),
        Path(inputs.index),
        Path(snakemake.output.weights),
        Path(snakemake.output.metrics),
        Path(snakemake.params.work),
        seed=snakemake.params.seed,
        device=snakemake.params.device,
        code=snakemake.params.code,
        num_workers=runtime_setting(snakemake, "restoration.num_workers") or 0,
        balance=Path(inputs.balance) if inputs.get("balance") else None,
        init=Path(inputs.init) if inputs.get("init") else None,
    )
    for note in result.notes:
        log.warning("%s: %s", stage, note)
    log.info("%s: last validation %s", stage, (result.validation or [None])[-1])
