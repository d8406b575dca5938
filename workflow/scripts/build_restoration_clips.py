"""Cut, crop, analyse and write the restoration clips of one video (checkpoint
build_restoration_clips); the manifest lists every candidate clip with its status."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.datasets.censor import CensorConfig
from mosaicflow.datasets.clips.config import ClipCuttingConfig
from mosaicflow.datasets.clips.jobs import ClipJob, WatermarkModel, build_clips
from mosaicflow.datasets.tags import TagsConfig
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
inputs, params = snakemake.input, snakemake.params
watermark = None
if inputs.get("watermark"):
    watermark = WatermarkModel(
        Path(inputs.watermark), params.watermark["imgsz"], params.watermark["conf"]
    )
job = ClipJob(
    video_id=snakemake.wildcards.video,
    video=Path(inputs.video),
    frames_index=Path(inputs.index),
    regions=Path(inputs.regions) if inputs.get("regions") else None,
    truth=Path(inputs.truth) if inputs.get("truth") else None,
    dataset_dir=Path(snakemake.output.manifest).parent.parent,  # <dataset>/videos/<video>.json
    manifest=Path(snakemake.output.manifest),
    work=Path(params.work),
    seed=params.seed,
    code=params.code,
    threads=snakemake.threads,
    watermark=watermark,
    quality=Path(inputs.quality) if inputs.get("quality") else None,
    tags=build(TagsConfig, params.tags),
    censor=build(CensorConfig, params.censor),
    censor_detector=Path(inputs.censor) if inputs.get("censor") else None,
    device=params.device,
)
result = build_clips(
    job, build(ClipCuttingConfig, params.dataset), build(MosaicConfig, params.mosaic)
)
log.info("%d clips, %d kept; seconds %s", len(result.records), result.kept, result.timings)
