"""Score the restored test videos against the originals (rule evaluate_restoration)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.evaluation.config import EvaluateConfig
from mosaicflow.evaluation.evaluate import EvalItem, blur_sigmas, evaluate_restoration
from mosaicflow.plan.runtime import setup

log = setup(snakemake)
files = snakemake.input
items = [
    EvalItem(name, *(Path(p) for p in paths))
    for name, *paths in zip(
        snakemake.params.names, files.originals, files.mosaics, files.truths, files.restored,
        files.masks, files.summaries, files.truth_jsons, strict=True,
    )
]  # fmt: skip
out = snakemake.output
card = files.get("restorer_card")  # none for a restorer given as weights
sigmas = blur_sigmas(Path(card) if card else None, snakemake.params.sigmas)
log.info("blur baseline sigmas: %s", sigmas)
metrics = evaluate_restoration(
    build(EvaluateConfig, snakemake.params.evaluate), items, sigmas,
    Path(out.metrics), Path(out.table), Path(out.side_by_side), Path(out.grid),
    code=snakemake.params.code,
)  # fmt: skip
log.info("pooled: %s", {k: v for k, v in metrics["total"].items() if k != "blur_search"})
