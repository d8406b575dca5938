"""Pack the kept restoration clips into tar shards (rule shard_restoration_dataset)."""

from pathlib import Path

from mosaicflow.datasets.shards import shard_clips
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
result = shard_clips(
    Path(snakemake.input.index).parent,
    Path(snakemake.output[0]),
    max_bytes=round(snakemake.params.max_mb * 2**20),
)
log.info("%s", result)
