"""Typed configuration of the demo world (the ``world`` section of ``config/schema.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorldRoles:
    """How many videos of each role the world has (``world.roles``)."""

    train: int
    val: int
    test: int
    label: int


#: Kinds of label error ``world.label_noise`` injects (:mod:`mosaicflow.world.label_noise`).
KINDS = ("drop", "shift", "distractor")


@dataclass(frozen=True)
class LabelNoise:
    """``world.label_noise``: the share of labelled train frames given one error, and the kinds.

    Attributes:
        fraction: probability that a train labelme frame gets one error (0 = off).
        kinds: error kinds to draw from (:data:`KINDS`).
    """

    fraction: float = 0.0
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"world.label_noise.kinds: unknown {unknown}; known: {list(KINDS)}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"world.label_noise.fraction: {self.fraction} is not in [0, 1]")


@dataclass(frozen=True)
class Reuploads:
    """``world.reuploads``: copies of source videos as a re-upload would make them.

    Attributes:
        sources: names of world videos to copy, each once (in this order).
        count: further copies, of source videos drawn from the seed among those not listed.
        shift_frames: (low, high) frames cut from the start, inclusive.
        crop: (low, high) share of the width and of the height cut from each side.
        scale: (low, high) size of the copy relative to the cropped source.
        crf: (low, high) x264 CRF of the copy, inclusive.
    """

    sources: tuple[str, ...] = ()
    count: int = 0
    shift_frames: tuple[int, ...] = (2, 15)
    crop: tuple[float, ...] = (0.01, 0.05)
    scale: tuple[float, ...] = (0.5, 0.9)
    crf: tuple[int, ...] = (30, 37)

    def __post_init__(self) -> None:
        for key in ("shift_frames", "crop", "scale", "crf"):
            low, high = getattr(self, key)
            if low > high:
                raise ValueError(f"world.reuploads.{key}: low {low} > high {high}")


@dataclass(frozen=True)
class WorldConfig:
    """The ``world`` section: sizes, content fractions and per-video overrides.

    Every field matches a key of ``world`` in ``config/schema.yaml`` (defaults live there).
    ``videos`` maps a video name (``world-<role>-NN``) to overrides of the per-video keys.
    """

    minimums: bool
    roles: WorldRoles
    width: int
    height: int
    fps: int
    seconds: float
    label: str
    empty_label: str
    labelme_every: int
    watermark_every: int
    watermark_overlay_p: float
    crf: int
    scenes: int
    max_targets: int
    target_coverage: tuple[float, ...]
    empty_fraction: float
    static_fraction: float
    watermark_fraction: float
    audio_videos: tuple[str, ...]
    videos: Mapping[str, Mapping[str, Any]]
    label_noise: LabelNoise = LabelNoise()
    reuploads: Reuploads = Reuploads()
