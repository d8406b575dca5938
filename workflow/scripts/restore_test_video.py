"""Restore one mosaicked test video with the trained detector and restorer (rule
restore_test_video)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.evaluation.config import EvaluationRestoreConfig
from mosaicflow.evaluation.restore_jobs import restore_test_video
from mosaicflow.inference.detector import DetectorSettings
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
summary = restore_test_video(
    build(EvaluationRestoreConfig, snakemake.params.evaluate),
    build(DetectorSettings, snakemake.params.detector),
    Path(snakemake.input.video),
    Path(snakemake.input.detector),
    Path(snakemake.input.detector_card),
    Path(snakemake.input.restorer),
    Path(snakemake.output.video),
    Path(snakemake.output.masks),
    Path(snakemake.output.summary),
    device=snakemake.params.device,
    threads=snakemake.threads,
    config_dir=Path(snakemake.params.work),
)
log.info("%s: %d frames, %d restored", snakemake.wildcards.name, summary["frames"],
         summary["restored_frames"])  # fmt: skip
