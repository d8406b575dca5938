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
