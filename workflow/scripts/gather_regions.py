"""One summary row per video of the region inference (rule gather_regions)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.infer import gather_summaries

log = setup(snakemake)
table = gather_summaries(
    [Path(p) for p in snakemake.input.summaries],
    Path(snakemake.output[0]),
    model_record=Path(snakemake.input.model_record),
    conf=snakemake.params.conf,
    required=snakemake.params.required,
)
log.info("region summary: %d videos", len(table))
