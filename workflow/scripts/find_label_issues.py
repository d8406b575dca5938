"""Rank the region training frames by label quality and export the flagged ones as labelme
files (rule find_label_issues)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.curate.label_issue_jobs import LabelIssueJob, find_label_issues
from mosaicflow.curate.label_issues import LabelIssuesConfig
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
job = LabelIssueJob(
    labelme_dirs=tuple(Path(p) for p in inputs.labelme),
    model=Path(inputs.model),
    labels=tuple(params.labels),
    empty_flag=params.empty_flag,
    imgsz=params.imgsz,
    device=params.device,
    threads=snakemake.threads,
    work=Path(params.work),
    table=Path(output.table),
    export_dir=Path(output.export),
    metrics=Path(output.metrics),
    sheet=Path(output.sheet),
    truth_errors=Path(inputs.errors) if inputs.get("errors") else None,
    overrides=Path(inputs.overrides).parent if inputs.get("overrides") else None,
)
result = find_label_issues(job, build(LabelIssuesConfig, params.label_issues))
log.info("%d frames, %d flagged", result.frames, result.flagged)
