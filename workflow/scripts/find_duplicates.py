"""Duplicate pairs and groups of all videos, from their frame signatures (rule find_duplicates)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.curate.config import DuplicatesConfig
from mosaicflow.curate.duplicates import find_duplicates
from mosaicflow.io import write_parquet
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
cfg = build(DuplicatesConfig, snakemake.params.duplicates)
folders = {
    video: Path(index).parent
    for video, index in zip(snakemake.params.videos, snakemake.input.indexes, strict=True)
}
pairs, groups = find_duplicates(folders, cfg, threads=snakemake.threads)
write_parquet(snakemake.output.pairs, pairs)
write_parquet(snakemake.output.duplicates, groups)
log.info(
    "%d videos, %d duplicate pairs, %d groups, %d dropped",
    len(groups),
    len(pairs),
    groups["group"].nunique(),
    int((~groups["kept"]).sum()),
)
