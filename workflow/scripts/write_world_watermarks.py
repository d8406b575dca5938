"""Write the demo world's watermark dataset in YOLO format (rule write_world_watermarks)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.plan.runtime import setup
from mosaicflow.world import write_watermark_set
from mosaicflow.world.config import WorldConfig
from mosaicflow.world.items import labelled_splits

log = setup(snakemake)
cfg = build(WorldConfig, snakemake.params.world)
splits = {
    split: [tuple(map(Path, item)) for item in items]
    for split, items in labelled_splits(list(snakemake.input)).items()
}
summary = write_watermark_set(
    splits["train"], splits["val"], Path(snakemake.output[0]), cfg, snakemake.params.seed
)
log.info("watermark dataset: %s", summary)
