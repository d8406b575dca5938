"""Pack the detection dataset into tar shards (rule shard_detection_dataset)."""

from pathlib import Path

from mosaicflow.datasets.shards import shard_detection
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
result = shard_detection(
    Path(snakemake.input.dataset),
    Path(snakemake.output[0]),
    max_bytes=round(snakemake.params.max_mb * 2**20),
)
log.info("%s", result)
