"""Paste text and logo watermarks on frames of the source videos and write them as a YOLO
detection set (rule build_watermark_dataset)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.datasets.watermarks import SourceVideo, WatermarkSetConfig, build_watermark_set
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
listed = snakemake.params.videos
sources = [
    SourceVideo(video_id, Path(video), Path(index), role)
    for video_id, role, video, index in zip(
        listed["ids"],
        listed["roles"],
        snakemake.input.videos,
        snakemake.input.indexes,
        strict=True,
    )
]
stats = build_watermark_set(
    sources,
    Path(snakemake.output[0]),
    build(WatermarkSetConfig, snakemake.params.watermark_set),
    snakemake.params.seed,
)
log.info("watermark set: %s", stats)
