"""An ultralytics ONNX export (nudenet's detector) -> the YOLO bases every YOLO model starts
from (rule convert_yolo_base)."""

from pathlib import Path

from mosaicflow.installed import locate
from mosaicflow.plan.runtime import setup
from mosaicflow.yolo.bases import write_bases

log = setup(snakemake)
out = snakemake.output
# the user's own export is an input; the one inside the nudenet package is a reference
source = snakemake.params.source
record = write_bases(
    Path(snakemake.input.onnx) if not source else locate(source),
    {"detect": Path(out.detect), "segment": Path(out.segment)},
    Path(out.card),
    code=snakemake.params.code,
)
log.info("YOLO bases from %s: %s", record["source"], record["bases"])
