"""Contact sheets of the restoration clips, one per split (rule draw_restoration_sheets)."""

from pathlib import Path

from mosaicflow.datasets.clips.index import read_index
from mosaicflow.datasets.clips.sheet import contact_sheet
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
index_path = Path(snakemake.input.index)
index = read_index(index_path)
for split, out in snakemake.output.items():
    contact_sheet(index, index_path.parent, split, Path(out), snakemake.params.clips)
    log.info("%s: %s", split, out)
