"""Gather the per-video clip manifests into index.parquet, split by source video (one split per
duplicate group), dropping duplicate videos and the clips a reviewer dropped (rule
index_restoration_dataset)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.curate.duplicates import read_groups
from mosaicflow.curate.verdicts import dropped_clips, read_verdicts
from mosaicflow.datasets.clips.config import SplitConfig
from mosaicflow.datasets.clips.index import build_index
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
verdicts = snakemake.input.get("verdicts")
drops = dropped_clips(read_verdicts(Path(verdicts))) if verdicts else {}
duplicates = snakemake.input.get("duplicates")
groups, dropped = read_groups(Path(duplicates) if duplicates else None)
index = build_index(
    [Path(p) for p in snakemake.input.manifests],
    Path(snakemake.output.index),
    build(SplitConfig, snakemake.params.split),
    seed=snakemake.params.seed,
    roles=snakemake.params.roles,
    review_drops=drops,
    groups=groups,
    duplicates=dropped,
)
kept = index[index["kept"]]
reviewed = int((index["reason"] == "review").sum())
duplicated = int((index["reason"] == "duplicate").sum())
log.info(
    "%d candidate clips, %d kept (%d dropped by review, %d as duplicates); per split %s",
    len(index), len(kept), reviewed, duplicated, kept["split"].value_counts().to_dict(),
)  # fmt: skip
