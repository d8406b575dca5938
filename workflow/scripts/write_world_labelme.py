"""Write the labelme sample of the demo world's train or val videos (rule write_world_labelme)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.workflow.runtime import setup
from mosaicflow.workflow.targets import group_items
from mosaicflow.world import write_labelme_set
from mosaicflow.world.config import WorldConfig

log = setup(snakemake)
items = [tuple(map(Path, item)) for item in group_items(list(snakemake.input))]
count = write_labelme_set(
    items,
    Path(snakemake.output[0]),
    build(WorldConfig, snakemake.params.world),
    snakemake.params.seed,
)
log.info("wrote %d labelme files to %s", count, snakemake.output[0])
