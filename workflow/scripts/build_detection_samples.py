"""Sample one video's frames, pixelate their regions, write images, mosaic masks and a manifest
(rule build_detection_samples)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.datasets.censor import CensorCheck, CensorConfig
from mosaicflow.datasets.detection.build import build_video_samples
from mosaicflow.datasets.detection.config import DetectionSamplingConfig
from mosaicflow.datasets.detection.faces import face_finder
from mosaicflow.datasets.tags import RegionTagger, TagsConfig
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.plan.runtime import setup
from mosaicflow.quality.score import load_scorer

log = setup(snakemake)
regions = snakemake.input.get("regions")
truth = snakemake.input.get("truth")
scorer = load_scorer(snakemake.input.get("quality"), snakemake.threads)
tags = build(TagsConfig, snakemake.params.tags)
censor = build(CensorConfig, snakemake.params.censor)
dataset = build(DetectionSamplingConfig, snakemake.params.dataset)
result = build_video_samples(
    dataset,
    build(MosaicConfig, snakemake.params.mosaic),
    Path(snakemake.input.video),
    Path(snakemake.input.index),
    Path(snakemake.output.samples),
    Path(snakemake.output.manifest),
    video_id=snakemake.wildcards.video,
    seed=snakemake.params.seed,
    regions_parquet=Path(regions) if regions else None,
    truth_mkv=Path(truth) if truth else None,
    quality_scorer=scorer.scores if scorer else None,
    tagger=RegionTagger(tags) if tags.enabled else None,
    censor=CensorCheck(
        censor, snakemake.input.get("censor"), device=snakemake.params.device,
        config_dir=Path(snakemake.params.work) / "yolo_config",
    ) if censor.enabled else None,
    faces=face_finder(dataset.faces) if dataset.faces.enabled else None,
)  # fmt: skip
log.info("%s", result)
