"""Train (or take) the watermark detector, validate and export it (rule train_watermark)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.regions.config import WatermarkConfig
from mosaicflow.regions.train import ModelOutputs, train_watermark
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
out = snakemake.output
record = train_watermark(
    build(WatermarkConfig, snakemake.params.watermark),
    Path(snakemake.input.dataset) if snakemake.input.get("dataset") else None,
    ModelOutputs(Path(out.weights), Path(out.onnx), Path(out.train_json)),
    Path(snakemake.params.work),
    code=snakemake.params.code,
    device=snakemake.params.device,
    threads=snakemake.threads,
    seed=snakemake.params.seed,
)
log.info("watermark detector: %s %s", record["metrics"], record["training"])
