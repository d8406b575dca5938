"""Write the demo world's watermark dataset in YOLO format (rule write_world_watermarks)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.workflow.runtime import setup
from mosaicflow.workflow.targets import group_items
from mosaicflow.world import write_watermark_set
from mosaicflow.world.config import WorldConfig

log = setup(snakemake)
cfg = build(WorldConfig, snakemake.params.world)
items = [tuple(map(Path, item)) for item in group_items(list(snakemake.input))]
train = [item for item in items if "-train-" in item[0].name]
val = [item for item in items if "-val-" in item[0].name]
summary = write_watermark_set(train, val, Path(snakemake.output[0]), cfg, snakemake.params.seed)
log.info("watermark dataset: %s", summary)
