"""Score the test videos' clips against their ground truth (rule
evaluate_restoration_dataset): track coverage, crop containment, mask IoU."""

from pathlib import Path

from mosaicflow.datasets.clips.jobs import evaluate_clip_dataset, scored_videos
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
videos = scored_videos(
    snakemake.params.ids,
    snakemake.input.truth_items,
    snakemake.input.frames,
    list(snakemake.input.regions),
)
metrics = evaluate_clip_dataset(
    Path(snakemake.input.index),
    videos,
    Path(snakemake.output.metrics),
    Path(snakemake.params.work),
    min_seconds=snakemake.params.min_seconds,
    max_gap=snakemake.params.max_gap,
    code=snakemake.params.code,
)
log.info("%s", {k: v for k, v in metrics.items() if k not in ("per_video", "code_hash")})
