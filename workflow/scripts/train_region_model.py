"""Train (or take) a region model, validate and export it (rules train_region_seg and
train_watermark; ``params.stage`` says which)."""

from pathlib import Path

from mosaicflow.regions.config import stage_config
from mosaicflow.regions.train import ModelOutputs, train_model
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
stage = snakemake.params.stage
out = snakemake.output
record = train_model(
    stage,
    stage_config(stage, snakemake.params.section),
    Path(snakemake.input.dataset) if snakemake.input.get("dataset") else None,
    ModelOutputs(Path(out.weights), Path(out.onnx), Path(out.train_json)),
    Path(snakemake.params.work),
    code=snakemake.params.code,
    device=snakemake.params.device,
    threads=snakemake.threads,
    seed=snakemake.params.seed,
)
log.info("%s: %s %s", stage, record["metrics"], record["training"])
