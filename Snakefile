# mosaicflow: videos -> regions -> restoration and mosaic-detection datasets -> models.
# All logic lives in the `mosaicflow` package; see README.md and config/README.md.
from snakemake.utils import min_version

min_version("9.27")


# The embedded default (the demo world); --configfile layers your own files on top.
configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/world.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/yolo.smk"
include: "workflow/rules/regions.smk"
include: "workflow/rules/detection.smk"
include: "workflow/rules/restoration.smk"
include: "workflow/rules/balance.smk"
include: "workflow/rules/shards.smk"
include: "workflow/rules/review.smk"
include: "workflow/rules/duplicates.smk"
include: "workflow/rules/quality.smk"
include: "workflow/rules/evaluation.smk"


rule all:
    default_target: True
    input:
        stages.final_outputs(RUN),
