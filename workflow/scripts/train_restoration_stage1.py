"""Stage 1 of the restoration model: the pixel loss on the clip dataset, resumable from its work
folder (rule train_restoration_stage1)."""

from pathlib import Path

from mosaicflow.restore.stages import run_stage
from mosaicflow.workflow.runtime import setup

# DataLoader workers (restoration.num_workers) are spawned and import this script again:
# the guard keeps them from running the stage.
if __name__ == "__main__":
    log = setup(snakemake)
    result = run_stage(
        "stage1",
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
    )
    log.info("stage 1: last validation %s", (result.get("validation") or [None])[-1])
