"""Write the labelme sample of the demo world's train or val videos (rule write_world_labelme);
the train sample gets the label errors of ``world.label_noise``, recorded beside it."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.plan.runtime import setup
from mosaicflow.world import write_labelme_set
from mosaicflow.world.config import LabelNoise, WorldConfig
from mosaicflow.world.items import group_items

log = setup(snakemake)
items = [tuple(map(Path, item)) for item in group_items(list(snakemake.input))]
noise = snakemake.params.label_noise
count = write_labelme_set(
    items,
    Path(snakemake.output.labelme),
    build(WorldConfig, snakemake.params.world),
    snakemake.params.seed,
    noise=build(LabelNoise, noise) if noise else None,
    noise_record=Path(snakemake.output.errors),
)
log.info("wrote %d labelme files to %s", count, snakemake.output.labelme)
