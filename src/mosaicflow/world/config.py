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
