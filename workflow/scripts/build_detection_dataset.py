"""Split the detection samples by video (by duplicate group) into the YOLO-seg mosaic detection
dataset, with COCO per split checked by pycocotools (rule build_detection_dataset)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.curate.duplicates import read_groups
from mosaicflow.datasets.detection.aggregate import build_detection_dataset
from mosaicflow.datasets.detection.config import DetectionDatasetConfig
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
duplicates = snakemake.input.get("duplicates")
groups, dropped = read_groups(Path(duplicates) if duplicates else None)
result = build_detection_dataset(
    build(DetectionDatasetConfig, snakemake.params.dataset),
    [Path(p) for p in snakemake.input.manifests],
    [Path(p) for p in snakemake.input.dirs],
    Path(snakemake.output[0]),
    roles=snakemake.params.roles,
    seed=snakemake.params.seed,
    code=snakemake.params.code,
    config_dir=Path(snakemake.params.work) / "yolo_config",
    threads=snakemake.threads,
    groups=groups,
    duplicates=dropped,
)
log.info("detection dataset %s: %s", result.out_dir, result.counts)
