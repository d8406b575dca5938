"""Render one re-upload of a demo-world video with its truth (rule render_world_reupload)."""

from pathlib import Path

from mosaicflow.plan.runtime import setup
from mosaicflow.world.reuploads import ReuploadSpec, render_reupload

log = setup(snakemake)
spec = ReuploadSpec.from_dict(snakemake.params.spec)
stats = render_reupload(
    spec,
    Path(snakemake.input.video),
    Path(snakemake.input.truth),
    Path(snakemake.input.truth_json),
    Path(snakemake.output.video),
    Path(snakemake.output.truth),
    Path(snakemake.output.truth_json),
)
log.info("rendered %s from %s: %s", spec.name, spec.source, stats)
