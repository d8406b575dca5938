"""Test a region model on every frame of the demo's test videos; write model.json and metrics
(rules evaluate_region_seg and evaluate_watermark)."""

from pathlib import Path

from mosaicflow.regions.config import stage_config
from mosaicflow.regions.train import evaluate_model
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
stage = snakemake.params.stage
record = evaluate_model(
    stage,
    stage_config(stage, snakemake.params.section),
    Path(snakemake.input.weights),
    Path(snakemake.input.train_json),
    [Path(p) for p in snakemake.input.test_items],
    Path(snakemake.output.model_json),
    Path(snakemake.output.metrics),
    code=snakemake.params.code,
    device=snakemake.params.device,
    threads=snakemake.threads,
    config_dir=Path(snakemake.params.work) / "yolo_config",
)
log.info("%s: %s", stage, record["metrics"])
