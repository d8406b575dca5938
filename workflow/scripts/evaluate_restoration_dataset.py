"""Score the test videos' clips against their ground truth (rule
evaluate_restoration_dataset): track coverage, crop containment, mask IoU."""

from pathlib import Path

from mosaicflow.datasets.clips.evaluate import TruthVideo, evaluate_clips
from mosaicflow.datasets.clips.index import read_index
from mosaicflow.io import write_json
from mosaicflow.workflow.runtime import setup

log = setup(snakemake)
index_path = Path(snakemake.input.index)
items = snakemake.input.truth_items
regions = list(snakemake.input.regions)
if not regions:  # restoration_dataset.regions: truth: the clips were cut around the truth
    from mosaicflow.regions.infer import write_truth_table

    work = Path(snakemake.params.work)
    regions = [
        write_truth_table(Path(items[3 * k + 1]), Path(items[3 * k]), work / f"{vid}.parquet")
        for k, vid in enumerate(snakemake.params.ids)
    ]
tables = zip(snakemake.params.ids, regions, snakemake.input.frames, strict=True)
videos = [
    TruthVideo(vid, Path(items[3 * k + 1]), Path(items[3 * k + 2]), Path(regions), Path(frames))
    for k, (vid, regions, frames) in enumerate(tables)
]
result = evaluate_clips(
    read_index(index_path),
    index_path.parent,
    videos,
    snakemake.params.min_seconds,
    snakemake.params.max_gap,
)
write_json(Path(snakemake.output.metrics), {"code_hash": snakemake.params.code, **result})
log.info("%s", {k: v for k, v in result.items() if k != "per_video"})
