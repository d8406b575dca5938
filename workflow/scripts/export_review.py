"""The top-ranked clips as Label Studio tasks and an HTML contact-sheet page (rule
export_review)."""

from pathlib import Path

import pandas as pd

from mosaicflow.config import build
from mosaicflow.curate.config import ReviewConfig
from mosaicflow.curate.review_export import export_review
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
review = build(ReviewConfig, snakemake.params.review)
tasks = export_review(
    pd.read_parquet(snakemake.input.ranked),
    Path(snakemake.input.index).parent,
    Path(snakemake.output.export),
    top_k=review.top_k,
    url_root=review.label_studio_path,
    sheet=Path(snakemake.output.sheet),
)
log.info("%d clips exported for review", len(tasks))
