"""Segment and track the regions of one video's kept frames (rule infer_regions)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.config import RegionsInferConfig
from mosaicflow.yolo.infer import infer_regions

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
