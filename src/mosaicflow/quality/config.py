"""Typed ``quality`` config section (``config/schema.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass

#: Ways of making a frame's score from its five crops
#: (:func:`mosaicflow.quality.score.combine_crops`).
COMBINES = ("min", "mean", "by_kind")


@dataclass(frozen=True)
class QualityConfig:
    """``quality``: the source-quality classifier.

    Attributes:
        enabled: train the classifier and score every clip's source frames with it.
        weights: a trained classifier used as is instead of training one.
        init_weights: a classifier's weights the training starts from (None: random).
        crop: side in pixels of the square crops the classifier sees (full resolution).
        frames: training frames drawn evenly from the kept frames of the training videos.
        val_frames: held-out frames (of the validation videos) the card is measured on.
        iterations, batch, lr: Adam steps, samples per step, learning rate.
        combine: how the five crops make a frame's score (``mean``, ``min`` or ``by_kind``,
            :func:`mosaicflow.quality.score.combine_crops`).
        blur_sigma, upscale, codec_crf, mosaic_block: ranges of the training degradations.
        reencode_p: probability that a training batch is re-encoded after its degradations.
        reencode_crf: range of the x264 CRF of that re-encode.
    """

    enabled: bool = False
    weights: str | None = None
    init_weights: str | None = None
    crop: int = 96
    frames: int = 600
    val_frames: int = 120
    iterations: int = 2000
    batch: int = 32
    lr: float = 0.002
    combine: str = "mean"
    blur_sigma: tuple[float, ...] = (1.0, 3.0)
    upscale: tuple[float, ...] = (0.2, 0.5)
    codec_crf: tuple[int, ...] = (40, 51)
    mosaic_block: tuple[int, ...] = (5, 16)
    reencode_p: float = 1.0
    reencode_crf: tuple[int, ...] = (16, 30)

    def __post_init__(self) -> None:
        if self.combine not in COMBINES:
            raise ValueError(f"quality.combine: {self.combine!r} is not one of {COMBINES}")
        if not 0.0 <= self.reencode_p <= 1.0:
            raise ValueError(f"quality.reencode_p: {self.reencode_p} is not in [0, 1]")
        for key in ("blur_sigma", "upscale", "codec_crf", "mosaic_block", "reencode_crf"):
            low, high = getattr(self, key)
            if low > high:
                raise ValueError(f"quality.{key}: low {low} > high {high}")
