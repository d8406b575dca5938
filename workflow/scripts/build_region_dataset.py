"""Convert labelme folders to the region segmenter's YOLO dataset (rule build_region_dataset);
frames corrected in review (results/review/label_overrides/) replace the ones they correct. The
pre-flight refuses a set the segmenter cannot train on and warns about a thin one."""

from pathlib import Path

from mosaicflow.curate.label_overrides import override_paths
from mosaicflow.formats.dataset import labelme_to_yolo_dataset
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
overrides = snakemake.input.get("overrides")
result = labelme_to_yolo_dataset(
    [Path(p) for p in snakemake.input.train],
    [Path(p) for p in snakemake.input.get("val", [])],
    snakemake.params.labels,
    Path(snakemake.output[0]),
    snakemake.params.seed,
    empty_flag=snakemake.params.empty_flag,
    val_fraction=snakemake.params.val_fraction,
    code=snakemake.params.code,
    overrides=override_paths(Path(overrides).parent) if overrides else None,
    strict=True,
)
log.info("region dataset %s: %s", result.out_dir, result.counts)
