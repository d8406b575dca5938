"""Render one demo-world video with its ground truth (rule render_world_video)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.world import VideoSpec, render_video

log = setup(snakemake)
spec = VideoSpec.from_dict(snakemake.params.spec)
result = render_video(
    spec,
    Path(snakemake.output.video),
    Path(snakemake.output.truth),
    Path(snakemake.output.truth_json),
)
log.info("rendered %s: %s", spec.name, result)
