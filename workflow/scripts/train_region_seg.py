"""Train (or take) the region segmenter, validate and export it (rule train_region_seg)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.regions.config import RegionsConfig
from mosaicflow.regions.train import ModelOutputs, train_region_seg
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
out = snakemake.output
record = train_region_seg(
    build(RegionsConfig, snakemake.params.regions),
    Path(snakemake.input.dataset) if snakemake.input.get("dataset") else None,
    ModelOutputs(Path(out.weights), Path(out.onnx), Path(out.train_json)),
    Path(snakemake.params.work),
    code=snakemake.params.code,
    device=snakemake.params.device,
    threads=snakemake.threads,
    seed=snakemake.params.seed,
)
log.info("region segmenter: %s %s", record["metrics"], record["training"])
