# mosaicflow: videos -> regions -> restoration and mosaic-detection datasets -> models.
# All logic lives in the `mosaicflow` package; see README.md and config/README.md.
from snakemake.utils import min_version

min_version("9.27")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/world.smk"
include: "workflow/rules/frames.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True
