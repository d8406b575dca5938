"""Train the source-quality classifier on the training videos (rule train_quality_classifier)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.installed import path_of
from mosaicflow.plan.runtime import setup
from mosaicflow.quality.config import QualityConfig
from mosaicflow.quality.train import FrameSource, train_classifier
from mosaicflow.threads import set_threads

log = setup(snakemake)
set_threads(snakemake.threads)
inputs, params = snakemake.input, snakemake.params


def sources(ids, videos, indexes):
    return [
        FrameSource(vid, Path(video), Path(index))
        for vid, video, index in zip(ids, videos, indexes, strict=True)
    ]


card = train_classifier(
    sources(params.train, inputs.videos, inputs.indexes),
    sources(params.val, inputs.val_videos, inputs.val_indexes),
    build(QualityConfig, {key: path_of(value) for key, value in params.quality.items()}),
    params.seed,
    Path(snakemake.output.weights),
    Path(snakemake.output.card),
)
log.info("source-quality classifier: %s", card["val"])
