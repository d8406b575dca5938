"""The signals of one video's kept clips (rule score_clips)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.curate.clip_jobs import score_video_clips
from mosaicflow.curate.config import ClipSignalsConfig
from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.config import RegionsInferConfig

log = setup(snakemake)
signals = build(ClipSignalsConfig, snakemake.params.signals)
truth = snakemake.input.get("truth")
video = snakemake.input.get("video")
segmenter = None
if snakemake.input.get("segmenter"):
    from mosaicflow.curate.contrast_check import SegmenterDetections

    regions = build(RegionsInferConfig, snakemake.params.regions)
    segmenter = SegmenterDetections(
        snakemake.input.segmenter,
        imgsz=regions.imgsz,
        iou=regions.iou,
        device=snakemake.params.device,
        threads=snakemake.threads,
        config_dir=Path(snakemake.params.work) / "yolo_config",
    )
table = score_video_clips(
    Path(snakemake.input.manifest),
    Path(snakemake.input.regions),
    Path(snakemake.output.signals),
    truth_mkv=Path(truth) if truth else None,
    video=Path(video) if video else None,
    nudenet=signals.nudenet,
    contrast_check=signals.contrast_check,
    segmenter=segmenter,
)
log.info("%d clips scored", len(table))
