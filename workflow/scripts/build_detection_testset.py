"""Draw mosaics over every frame of one held-out video, for the detector's test (rule
build_detection_testset)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.datasets.detection.faces import FacesConfig
from mosaicflow.datasets.detection.testset import build_test_video
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
result = build_test_video(
    build(MosaicConfig, snakemake.params.mosaic),
    Path(snakemake.input.video),
    Path(snakemake.input.truth),
    Path(snakemake.input.truth_json),
    Path(snakemake.output.video),
    Path(snakemake.output.truth),
    Path(snakemake.output.truth_json),
    seed=snakemake.params.seed,
    test_seed=snakemake.params.test_seed,
    min_change=snakemake.params.min_change,
    name=snakemake.wildcards.name,
    faces=build(FacesConfig, snakemake.params.faces),
)
log.info("%s: %s", snakemake.wildcards.name, result)
