"""Stage 2 of the restoration model: pixel + perceptual + GAN losses with an EMA generator,
resumable from its work folder (rule train_restoration_stage2)."""

from pathlib import Path

from mosaicflow.restore.stages import run_stage
from mosaicflow.workflow.runtime import setup

# DataLoader workers (restoration.num_workers) are spawned and import this script again:
# the guard keeps them from running the stage.
if __name__ == "__main__":
    log = setup(snakemake)
    result = run_stage(
        "stage2",
        snakemake.params.restoration,
        snakemake.params.mosaic,
        Path(snakemake.input.index),
        Path(snakemake.output.weights),
        Path(snakemake.output.metrics),
        Path(snakemake.params.work),
        seed=snakemake.params.seed,
        device=snakemake.params.device,
        code=snakemake.params.code,
        balance=Path(snakemake.input.balance) if snakemake.input.get("balance") else None,
        init=Path(snakemake.input.init),
    )
    for note in result.get("notes", []):
        log.warning("stage 2: %s", note)
    log.info("stage 2: last validation %s", (result.get("validation") or [None])[-1])
