"""Typed config of the ``frames`` stage (mirrors the ``frames:`` section of config/schema.yaml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MpdecimateConfig:
    """``frames.mpdecimate``: near-duplicate dropping (FFmpeg mpdecimate parameters)."""

    preset: str | None
    hi: int
    lo: int
    frac: float
    max: int
    keep: int
    ffmpeg_version: str


@dataclass(frozen=True)
class FramesConfig:
    """``frames``: decoding, near-duplicate dropping, scene cuts and frame sampling."""

    mpdecimate: MpdecimateConfig
    scene_threshold: float
    every_n: int
    max_frames: int | None
    skip_start_s: float
    skip_end_s: float
    decode_threads: int
