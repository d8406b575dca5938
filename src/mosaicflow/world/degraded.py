"""Degraded scenes of the demo world (``world.degraded``): whole scenes as a poor source shows them.

A collection mixes sources of very different quality; a restorer trained on a blurred, re-encoded
or already censored clip learns to reproduce the damage. The world draws, per scene, whether it is
degraded and how (from the video's seed, independently of everything else the render draws;
``world.degraded.draw`` says how, :func:`draw_scene_degradations`):

- ``codec``: the scene re-encoded with x264 at a very high CRF (blocks, smeared detail);
- ``blur``: a Gaussian blur;
- ``upscale``: shrunk to a quarter to a half of its size and enlarged back (a low-resolution
  source);
- ``mosaic``: the targets already pixelated (an already censored source).

The truth JSON records each scene's degradation (``scenes[].degraded``) so a source-quality
classifier can be scored against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mosaicflow.mosaic.degrade import (
    codec_roundtrip,
    gaussian_blur,
    pixelate_regions,
    upscale_from_low,
)
from mosaicflow.world.specs import derive_seed


def draw_scene_degradations(
    params: Mapping[str, Any] | None, seed: int, scenes: int, shows_targets: Sequence[bool] = ()
) -> list[dict[str, Any] | None]:
    """Which scenes of a video are degraded, and how (None for a clean scene).

    ``draw: independent`` (the default): each scene is degraded with probability ``p``, its kind
    drawn from ``kinds``. ``draw: dealt``: only scenes that show a target are degraded (one
    without a target gives no clip and no sample, so its damage cannot be measured), each with
    probability ``p``, and the kinds are dealt in turn from a seeded shuffle of ``kinds``, so a
    video with as many degraded scenes as kinds holds each kind once. Each degradation's strength
    is drawn from its range.

    Args:
        params: the video's ``world.degraded`` (:meth:`DegradedScenes.for_role`), or None.
        seed: the video's seed.
        scenes: number of scenes of the video.
        shows_targets: per scene, whether it shows a target (read by ``draw: dealt``).
    """
    if not params:
        return [None] * scenes
    rng = np.random.default_rng(derive_seed(seed, "degraded"))
    dealt = params.get("draw", "independent") == "dealt"
    if dealt:
        if len(shows_targets) != scenes:
            raise ValueError(f"{len(shows_targets)} target flags for {scenes} scenes")
        deck = [str(k) for k in rng.permutation(params["kinds"])]
    drawn: list[dict[str, Any] | None] = []
    for scene in range(scenes):
        hit = rng.random() < params["p"]
        if dealt:
            hit = hit and bool(shows_targets[scene])
            kind = deck[sum(d is not None for d in drawn) % len(deck)]
        else:
            kind = str(params["kinds"][int(rng.integers(len(params["kinds"])))])
        low_crf, high_crf = params["codec_crf"]
        low_block, high_block = params["mosaic_block"]
        values = {
            "codec": {"crf": int(rng.integers(low_crf, high_crf + 1))},
            "blur": {"sigma": round(float(rng.uniform(*params["blur_sigma"])), 3)},
            "upscale": {"scale": round(float(rng.uniform(*params["upscale"])), 3)},
            "mosaic": {"block": int(rng.integers(low_block, high_block + 1))},
        }
        drawn.append({"kind": kind, **values[kind]} if hit else None)
    return drawn


def degrade_scene(
    frames: np.ndarray, masks: np.ndarray, degradation: Mapping[str, Any], fps: int
) -> np.ndarray:
    """One scene's frames ``(T, H, W, 3)`` with its degradation applied (masks: ``(T, H, W)``)."""
    kind = degradation["kind"]
    if kind == "codec":
        return codec_roundtrip(frames, "x264", fps=fps, crf=int(degradation["crf"]))
    if kind == "blur":
        return gaussian_blur(frames, float(degradation["sigma"]))
    if kind == "upscale":
        return upscale_from_low(frames, float(degradation["scale"]))
    if kind == "mosaic":
        return pixelate_regions(frames, masks, int(degradation["block"]))
    raise ValueError(f"unknown scene degradation {kind!r}")
