"""Labelme predictions for the least confident kept frames (rule prelabel_uncertain)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.config import RegionsPrelabelConfig
from mosaicflow.yolo.prelabel import prelabel_uncertain

log = setup(snakemake)
cfg = build(RegionsPrelabelConfig, snakemake.params.regions)
ids = snakemake.params.ids
result = prelabel_uncertain(
    Path(snakemake.input.model),
    dict(zip(ids, map(Path, snakemake.input.videos), strict=True)),
    dict(zip(ids, map(Path, snakemake.input.regions), strict=True)),
    Path(snakemake.output[0]),
    count=cfg.prelabel_frames,
    conf=cfg.conf,
    imgsz=cfg.imgsz,
    device=snakemake.params.device,
    threads=snakemake.threads,
    config_dir=Path(snakemake.params.work) / "yolo_config",
)
log.info("prelabel: %s", result)
