"""Score the clips' source quality against the demo world's degraded scenes
(rule evaluate_source_quality)."""

from pathlib import Path

import pandas as pd

from mosaicflow.io import read_json, write_json
from mosaicflow.plan.runtime import setup
from mosaicflow.quality.evaluate import score_against_truth

log = setup(snakemake)
inputs, params = snakemake.input, snakemake.params
metrics = score_against_truth(
    dict(zip(params.videos, map(Path, inputs.manifests), strict=True)),
    dict(zip(params.videos, map(Path, inputs.truths), strict=True)),
    params.roles,
    read_json(inputs.card) if inputs.get("card") else {},
    pd.read_parquet(inputs.scenes) if inputs.get("scenes") else None,
)
write_json(snakemake.output.metrics, metrics)
log.info(
    "source quality against the truth: %s",
    {k: metrics[k] for k in ("test", "held_out", "all", "scenes")},
)
