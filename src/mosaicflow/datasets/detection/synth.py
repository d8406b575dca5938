"""Image-level synthesis of the detection dataset: resize, mosaic positives, negatives.

Positives pixelate each region with :func:`mosaicflow.mosaic.apply_mosaic`, using the mosaic
parameters of the region's clip (its scene and track: every sample of one track in one scene
gets the same block size, shape and grid, as a censored video would); the label is the union
of the returned mosaic masks. Negatives keep their regions, paint them flat under a synthetic
text logo, or (hard negatives) go through a blocky low-quality JPEG or get a pixel-art patch.
The degradation mix (:func:`mosaicflow.mosaic.degrade`) then runs on the whole image.
Everything random comes from generators passed in; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from mosaicflow.formats.scaling import shrink
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.mosaic.synth import MosaicParams, apply_mosaic, sample_clip_params

#: A region of a frame: its clip key (scene, track) and its mask ``(H, W)`` bool.
Region = tuple[Hashable, np.ndarray]
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def resize_sample(
    image: np.ndarray, regions: Sequence[Region], imgsz: int
) -> tuple[np.ndarray, list[Region]]:
    """Downscale an image (area) and its region masks (nearest) to a long side of ``imgsz``."""
    small = shrink(image, imgsz)
    if small is image:
        return image, list(regions)
    out_h, out_w = small.shape[:2]
    resized = [
        (
            key,
            cv2.resize(mask.astype(np.uint8), (out_w, out_h), interpolation=cv2.INTER_NEAREST) > 0,
        )
        for key, mask in regions
    ]
    return small, [(key, mask) for key, mask in resized if mask.any()]


def mosaic_change(before: np.ndarray, after: np.ndarray, mosaic: np.ndarray) -> float:
    """How visible a mosaic is: the mean absolute change of its pixels, in grey levels (0-255,
    averaged over the channels); 0 for an empty mosaic mask."""
    inside = mosaic > 0
    if not inside.any():
        return 0.0
    diff = np.abs(after[inside].astype(np.int16) - before[inside].astype(np.int16))
    return float(diff.mean())


def keep_if_visible(
    before: np.ndarray,
    pixelated: np.ndarray,
    mosaic: np.ndarray,
    params: dict[str, Any],
    min_change: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The one rule for faint mosaics: keep a drawn mosaic only if it changes its pixels by at
    least ``min_change`` (:func:`mosaic_change`).

    Returns:
        ``(image, mosaic mask bool, params plus change and drawn)``: the pixelated image and its
        mask, or ``before`` and an empty mask when the mosaic is too faint.
    """
    change = mosaic_change(before, pixelated, mosaic)
    drawn = change >= min_change
    record = {**params, "change": round(change, 3), "drawn": drawn}
    if not drawn:
        return before, np.zeros(mosaic.shape, dtype=bool), record
    return pixelated, mosaic > 0, record


def pixelate(
    image: np.ndarray,
    regions: Sequence[Region],
    params_for: Callable[[Hashable, np.ndarray], MosaicParams],
    min_change: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Pixelate every region of an image with its clip's mosaic parameters.

    Args:
        image: uint8 RGB ``(H, W, 3)`` (not modified).
        regions: ``(clip key, mask)`` pairs.
        params_for: clip key and mask -> the clip's parameters (drawn once per clip).
        min_change: a mosaic that changes its pixels by less than this on average
            (:func:`mosaic_change`, grey levels) is not drawn: the region stays as it was and is
            not in the mask (a mosaic over a flat area looks like that area; labelling it
            teaches a detector the region, not the mosaic). 0 = every mosaic is drawn.

    Returns:
        ``(image, mosaic mask bool (H, W), parameters of each region as dicts)``; each dict
        also holds ``change`` and ``drawn``. Pixels outside the mosaic mask are bit-identical
        to the input.
    """
    out = image
    union = np.zeros(image.shape[:2], dtype=bool)
    used: list[dict[str, Any]] = []
    for key, mask in regions:
        params = params_for(key, mask)
        pixelated, mosaic = apply_mosaic(out, mask, params)
        out, drawn, record = keep_if_visible(out, pixelated, mosaic, params.to_dict(), min_change)
        union |= drawn
        used.append(record)
    return (out if out is not image else image.copy()), union, used


def clip_params(
    cfg: MosaicConfig, seed: Sequence[int], frame_shape: Sequence[int]
) -> Callable[[Hashable, np.ndarray], MosaicParams]:
    """A cached ``params_for`` for :func:`pixelate`: a clip's parameters are drawn from the
    first mask seen of it, with the generator ``default_rng([*seed, *key])``."""
    cache: dict[Hashable, MosaicParams] = {}

    def params_for(key: Hashable, mask: np.ndarray) -> MosaicParams:
        if key not in cache:
            parts = key if isinstance(key, tuple) else (key,)
            rng = np.random.default_rng([*seed, *(int(p) + 1 for p in parts)])
            cache[key] = sample_clip_params(cfg, mask, frame_shape, rng)
        return cache[key]

    return params_for


def flat_logo(image: np.ndarray, regions: Sequence[Region], rng: np.random.Generator) -> np.ndarray:
    """A negative: every region painted with its mean colour, a synthetic text logo on top."""
    out = image.copy()
    for _, mask in regions:
        if mask.any():
            out[mask] = image[mask].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    height, width = out.shape[:2]
    text = "".join(_LETTERS[i] for i in rng.integers(len(_LETTERS), size=int(rng.integers(3, 8))))
    scale = float(rng.uniform(0.3, 0.9)) * max(height, width) / 320
    thickness = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = int(rng.integers(0, max(1, width - tw)))
    y = int(rng.integers(min(th + 1, height - 1), height))
    colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
    cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return out


def random_blob(
    shape: Sequence[int], rng: np.random.Generator, area: Sequence[float] = (0.01, 0.12)
) -> np.ndarray:
    """A random filled blob (rotated ellipse or convex polygon) anywhere in a frame.

    Args:
        shape: ``(H, W)`` of the frame.
        rng: the generator.
        area: range of the blob's area as a share of the frame.

    Returns:
        Bool mask ``(H, W)`` with at least one pixel set.
    """
    height, width = int(shape[0]), int(shape[1])
    share = float(rng.uniform(*area))
    radius = np.sqrt(share * height * width / np.pi)  # of the circle with that area
    aspect = float(rng.uniform(0.5, 2.0))
    ax, ay = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    cx, cy = float(rng.uniform(0, width)), float(rng.uniform(0, height))
    mask = np.zeros((height, width), dtype=np.uint8)
    if rng.random() < 0.5:
        angle = float(rng.uniform(0, 180))
        axes = (max(1, round(ax)), max(1, round(ay)))
        cv2.ellipse(mask, (round(cx), round(cy)), axes, angle, 0, 360, 1, thickness=-1)
    else:
        corners = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, size=corners))
        points = np.stack([cx + ax * np.cos(angles), cy + ay * np.sin(angles)], axis=1)
        cv2.fillConvexPoly(mask, np.round(points).astype(np.int32), 1)
    if not mask.any():
        mask[min(height - 1, max(0, round(cy))), min(width - 1, max(0, round(cx)))] = 1
    return mask > 0


def random_mosaic(
    image: np.ndarray, mosaic: MosaicConfig, rng: np.random.Generator, min_change: float = 0.0
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Pixelate a random blob that is not a region: a mosaic whose place and outline say
    nothing about the footage's targets, so the detector has to learn the mosaic itself. Its
    shape, feathering and mask growth come from ``mosaic``; its block size is drawn
    log-uniformly from ``mosaic.min_block_size`` to 1/16 of the frame's long side (at most a
    third of the blob's side).

    Args:
        image: uint8 RGB ``(H, W, 3)`` (not modified).
        mosaic: the ``mosaic`` config.
        rng: the generator.
        min_change: as in :func:`pixelate`: a fainter mosaic is not drawn.

    Returns:
        ``(image, mosaic mask bool (H, W), the mosaic's parameters as a dict with change and
        drawn)``.
    """
    blob = random_blob(image.shape[:2], rng)
    params = sample_clip_params(mosaic, blob, image.shape[:2], rng)
    # the block size is log-uniform, from the smallest to 1/16 of the frame's long side, at most
    # a third of the blob's side: coarse mosaics are rare among the estimator's sizes
    smallest = mosaic.min_block_size
    largest = max(smallest, min(max(image.shape[:2]) / 16, np.sqrt(blob.sum()) / 3))
    block = round(float(np.exp(rng.uniform(np.log(smallest), np.log(largest + 0.5)))))
    params = replace(params.rescaled(block / params.block_h), frame_shape=params.frame_shape)
    out, mosaic_mask = apply_mosaic(image, blob, params)
    return keep_if_visible(image, out, mosaic_mask, params.to_dict(), min_change)


def blocky_jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hard negative: the whole image through JPEG at quality 5-15 (8x8 block artefacts)."""
    quality = int(rng.integers(5, 16))
    ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def pixel_art(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hard negative: a pixel-art patch (2-4 colours, 2-4 px cells) pasted at random."""
    out = image.copy()
    height, width = out.shape[:2]
    side = max(8, int(min(height, width) * rng.uniform(0.15, 0.35)))
    cell = int(rng.integers(2, 5))
    cells = max(2, side // cell)
    palette = rng.integers(0, 256, size=(int(rng.integers(2, 5)), 3)).astype(np.uint8)
    art = palette[rng.integers(len(palette), size=(cells, cells))]
    art = cv2.resize(art, (cells * cell, cells * cell), interpolation=cv2.INTER_NEAREST_EXACT)
    ah, aw = min(art.shape[0], height), min(art.shape[1], width)
    y = int(rng.integers(0, height - ah + 1))
    x = int(rng.integers(0, width - aw + 1))
    out[y : y + ah, x : x + aw] = art[:ah, :aw]
    return out
