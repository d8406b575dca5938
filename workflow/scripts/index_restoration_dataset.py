"""Gather the per-video clip manifests into index.parquet, split by source video (rule
index_restoration_dataset)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.datasets.clips.config import SplitConfig
from mosaicflow.datasets.clips.index import build_index
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
index = build_index(
    [Path(p) for p in snakemake.input.manifests],
    Path(snakemake.output.index),
    build(SplitConfig, snakemake.params.split),
    seed=snakemake.params.seed,
    roles=snakemake.params.roles,
)
kept = index[index["kept"]]
log.info("%d candidate clips, %d kept; per split %s", len(index), len(kept),
         kept["split"].value_counts().to_dict())  # fmt: skip
