"""Test a YOLO model on every frame of the demo's test videos; write model.json and metrics
(rule evaluate_model, ``{model}`` wildcard; ``params.test`` holds the keys its scorer reads,
its job's fields)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.jobs import evaluate_model
from mosaicflow.yolo.models import test_job_of

log = setup(snakemake)
name = snakemake.wildcards.model
record = evaluate_model(
    name,
    test_job_of(name, snakemake.params.test),
    Path(snakemake.input.weights),
    Path(snakemake.input.train_json),
    [Path(p) for p in snakemake.input.test_items],
    Path(snakemake.output.model_json),
    Path(snakemake.output.metrics),
    Path(snakemake.output.pr_curve),
    code=snakemake.params.code,
    device=snakemake.params.device,
    threads=snakemake.threads,
    config_dir=Path(snakemake.params.work) / "yolo_config",
    val_items=[Path(p) for p in snakemake.input.val_items],
    clean_val=[Path(p) for p in snakemake.input.clean_val],
    clean_test=[Path(p) for p in snakemake.input.clean_test],
)
log.info("%s: %s", name, record["metrics"])
