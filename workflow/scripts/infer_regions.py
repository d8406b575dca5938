"""Segment and track the regions of one video's kept frames (rule infer_regions)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.regions.config import RegionsInferConfig
from mosaicflow.regions.infer import infer_regions
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
summary = infer_regions(
    Path(snakemake.input.model),
    Path(snakemake.input.video),
    Path(snakemake.input.index),
    Path(snakemake.output.regions),
    Path(snakemake.output.summary),
    cfg=build(RegionsInferConfig, snakemake.params.regions),
    device=snakemake.params.device,
    threads=snakemake.threads,
    video_id=snakemake.wildcards.video,
    config_dir=Path(snakemake.params.work) / "yolo_config",
)
log.info("%s", summary)
