"""Sampling weights of the detection dataset's training images (rule balance_detection)."""

from pathlib import Path

from mosaicflow.datasets.balance.jobs import balance_detection, settings
from mosaicflow.datasets.detection.aggregate import SAMPLES_TABLE
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
result = balance_detection(
    Path(snakemake.input.dataset) / SAMPLES_TABLE,
    settings(snakemake.params.balance, "detection_levels", snakemake.input.get("rules")),
    Path(snakemake.output.weights),
    Path(snakemake.output.buckets),
)
log.info("detection images: %s", result)
