"""Train (or take) a YOLO model, validate and export it (rule train_model, ``{model}`` wildcard;
``params.train`` holds only the training keys of the model's section, its job's fields)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.jobs import ModelOutputs, train_model
from mosaicflow.yolo.models import train_job_of

log = setup(snakemake)
name = snakemake.wildcards.model
out = snakemake.output
record = train_model(
    name,
    train_job_of(name, snakemake.params.train),
    Path(snakemake.input.dataset) if snakemake.input.get("dataset") else None,
    ModelOutputs(Path(out.weights), Path(out.onnx), Path(out.train_json)),
    Path(snakemake.params.work),
    code=snakemake.params.code,
    device=snakemake.params.device,
    threads=snakemake.threads,
    seed=snakemake.params.seed,
    init_weights=Path(snakemake.input.init) if snakemake.input.get("init") else None,
    start_kind=snakemake.params.start,
    balance=Path(snakemake.input.balance) if snakemake.input.get("balance") else None,
)
log.info("%s: %s %s", name, record["metrics"], record["training"])
