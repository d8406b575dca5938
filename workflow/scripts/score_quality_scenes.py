"""Score every scene of the demo world's quality videos with the source-quality classifier
(rule score_quality_scenes)."""

from pathlib import Path

from mosaicflow.io import write_parquet
from mosaicflow.plan.runtime import setup
from mosaicflow.quality.evaluate import scenes_table
from mosaicflow.quality.score import load_scorer

log = setup(snakemake)
inputs = snakemake.input
scorer = load_scorer(inputs.quality, snakemake.threads)
table = scenes_table(list(map(Path, inputs.videos)), list(map(Path, inputs.truths)), scorer.scores)
write_parquet(Path(snakemake.output.scenes), table)
log.info(
    "scored %d scenes of %d videos (%d degraded)",
    len(table),
    len(inputs.videos),
    int((table["degraded"] != "").sum()) if len(table) else 0,
)
