"""The EMA generator for inference, in the reference key layout, and its model card (rule
export_restoration)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.restore.config import job_of
from mosaicflow.restore.jobs import run_export

log = setup(snakemake)
result = run_export(
    job_of("export", snakemake.params.restoration),
    Path(snakemake.input.stage2),
    Path(snakemake.output.weights),
    Path(snakemake.output.model_json),
    stage1_metrics=Path(snakemake.input.stage1_metrics),
    stage2_metrics=Path(snakemake.input.stage2_metrics),
    index_parquet=Path(snakemake.input.index),
    code=snakemake.params.code,
)
log.info("final validation %s; notes %s", result.final_validation, result.notes)
