"""Segment and track every frame of a user's held-out video: its truth for the evaluation
(rule infer_test_truth)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.config import RegionsInferConfig
from mosaicflow.yolo.inferred_truth import infer_test_truth

log = setup(snakemake)
result = infer_test_truth(
    Path(snakemake.input.model),
    Path(snakemake.input.video),
    Path(snakemake.output.truth),
    Path(snakemake.output.truth_json),
    cfg=build(RegionsInferConfig, snakemake.params.regions),
    device=snakemake.params.device,
    threads=snakemake.threads,
    video_id=snakemake.wildcards.video,
    name=snakemake.params.source,
    config_dir=Path(snakemake.params.work) / "yolo_config",
)
log.info("%s", result)
