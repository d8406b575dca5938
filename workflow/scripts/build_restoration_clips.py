"""Cut, crop, analyse and write the restoration clips of one video (checkpoint
build_restoration_clips); the manifest lists every candidate clip with its status."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.config import RestorationDatasetConfig
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
detector = None
if snakemake.input.get("watermark"):
    from mosaicflow.regions.watermark import WatermarkDetector

    detector = WatermarkDetector(
        snakemake.input.watermark,
        imgsz=snakemake.params.watermark["imgsz"],
        conf=snakemake.params.watermark["conf"],
        device=snakemake.params.device,
        threads=snakemake.threads,
        config_dir=Path(snakemake.params.work) / "yolo_config",
    ).boxes_rgb
regions = snakemake.input.get("regions")
if not regions:  # restoration_dataset.regions: truth (the demo world's truth masks)
    from mosaicflow.regions.infer import write_truth_table

    regions = write_truth_table(
        Path(snakemake.input.truth),
        Path(snakemake.input.video),
        Path(snakemake.params.work) / "truth_regions.parquet",
    )
timings: dict[str, float] = {}
records = build_video_clips(
    Path(snakemake.input.video),
    Path(snakemake.input.index),
    Path(regions),
    Path(snakemake.output.manifest).parent.parent,  # <dataset>/videos/<video>.json
    build(RestorationDatasetConfig, snakemake.params.dataset),
    mosaic_cfg=build(MosaicConfig, snakemake.params.mosaic),
    video_id=snakemake.wildcards.video,
    seed=snakemake.params.seed,
    code=snakemake.params.code,
    watermark_detector=detector,
    manifest=Path(snakemake.output.manifest),
    threads=snakemake.threads,
    timings=timings,
)
kept = sum(r["status"] == "kept" for r in records)
log.info("%d candidate clips, %d kept; seconds %s", len(records), kept, timings)
