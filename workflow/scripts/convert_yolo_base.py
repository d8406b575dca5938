"""An ultralytics ONNX export (nudenet's detector) -> the YOLO bases every YOLO model starts
from (rule convert_yolo_base)."""

from pathlib import Path

from mosaicflow.workflow.runtime import setup
from mosaicflow.yolo.bases import write_bases

log = setup(snakemake)
out = snakemake.output
record = write_bases(
    Path(snakemake.input.onnx),
    {"detect": Path(out.detect), "segment": Path(out.segment)},
    Path(out.card),
    code=snakemake.params.code,
)
log.info("YOLO bases from %s: %s", record["source"], record["bases"])
