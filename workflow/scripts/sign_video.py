"""The perceptual-hash signature of one video's kept frames (rule sign_video)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.curate.config import DuplicatesConfig
from mosaicflow.curate.duplicates import video_signature
from mosaicflow.io import write_parquet
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
cfg = build(DuplicatesConfig, snakemake.params.duplicates)
table = video_signature(
    Path(snakemake.input.video),
    Path(snakemake.input.index).parent,
    snakemake.wildcards.video,
    cfg.min_std,
)
write_parquet(snakemake.output.signature, table)
log.info("%d kept frames signed, %d informative", len(table), int(table["informative"].sum()))
