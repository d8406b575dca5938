"""Draw sample frames of every world video with their masks (rule draw_world_contact_sheet)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.world import contact_sheet
from mosaicflow.world.items import group_items

log = setup(snakemake)
items = [tuple(map(Path, item)) for item in group_items(list(snakemake.input))]
contact_sheet(items, Path(snakemake.output[0]), snakemake.params.seed)
log.info("contact sheet: %s", snakemake.output[0])
