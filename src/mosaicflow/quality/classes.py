"""The classifier's classes and the degradations that make their training samples.

A sample is a square crop of a kept training frame at full resolution. ``clean`` leaves it as it
is; the others degrade a slightly larger window around it with mosaicflow's own degradation
library (so borders see real neighbours) and cut the crop from the middle:

- ``codec``: an x264 round trip at a very high CRF;
- ``blur``: a Gaussian blur;
- ``upscale``: shrunk (area) and enlarged back (bicubic), as a low-resolution source;
- ``mosaic``: a random ellipse of the crop pixelated, as an already censored source.

A damaged source is published again, so every sample of every class, clean ones included, then
takes an x264 round trip at an everyday CRF (:func:`reencoded`): without it the classifier
learns that a blurred or upscaled crop is one free of codec noise, and calls every blurred
source that was re-encoded afterwards clean.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mosaicflow.mosaic.degrade import (
    codec_roundtrip,
    gaussian_blur,
    pixelate_regions,
    upscale_from_low,
)
from mosaicflow.quality.config import QualityConfig
from mosaicflow.quality.score import crop_origins, padded_to

#: Class names, in the order of the classifier's outputs; index 0 is the clean source.
CLASSES = ("clean", "codec", "blur", "upscale", "mosaic")


def window_margin(cfg: QualityConfig) -> int:
    """Pixels of context around a crop that a degradation sees (blur radius, codec blocks)."""
    return max(16, int(np.ceil(3 * cfg.blur_sigma[1])), cfg.mosaic_block[1])


def _mosaic_mask(size: int, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A random ellipse inside the central crop of a ``size`` window (uint8 0/1)."""
    mask = np.zeros((size, size), np.uint8)
    offset = (size - crop) // 2
    axes = (int(rng.integers(crop // 6, crop // 2)), int(rng.integers(crop // 6, crop // 2)))
    centre = (
        offset + int(rng.integers(axes[0] // 2, crop - axes[0] // 2 + 1)),
        offset + int(rng.integers(axes[1] // 2, crop - axes[1] // 2 + 1)),
    )
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask


def degrade_window(
    window: np.ndarray, label: int, cfg: QualityConfig, rng: np.random.Generator
) -> np.ndarray:
    """Class ``label``'s degradation of a square uint8 RGB window (its crop: the middle)."""
    kind = CLASSES[label]
    if kind == "clean":
        return window
    clip = window[None]
    if kind == "codec":
        low, high = cfg.codec_crf
        return codec_roundtrip(clip, "x264", crf=int(rng.integers(low, high + 1)))[0]
    if kind == "blur":
        return gaussian_blur(clip, float(rng.uniform(*cfg.blur_sigma)))[0]
    if kind == "upscale":
        return upscale_from_low(clip, float(rng.uniform(*cfg.upscale)))[0]
    low, high = cfg.mosaic_block
    mask = _mosaic_mask(window.shape[0], cfg.crop, rng)
    return pixelate_regions(clip, mask[None], int(rng.integers(low, high + 1)))[0]


def reencode_windows(windows: Sequence[np.ndarray], crf: int) -> list[np.ndarray]:
    """The windows (uint8 RGB, all of one shape) after one x264 round trip at ``crf``.

    They are tiled into one frame, each on its own 16-pixel macroblocks (edge-padded to a
    multiple of 16), so one encode serves a whole batch; the deblocking filter reaches at most 3
    pixels into a neighbour, inside the margin the crop is cut from.
    """
    if not windows:
        return []
    height, width = windows[0].shape[:2]
    tile_h, tile_w = -(-height // 16) * 16, -(-width // 16) * 16
    columns = int(np.ceil(np.sqrt(len(windows))))
    rows = -(-len(windows) // columns)
    sheet = np.zeros((rows * tile_h, columns * tile_w, 3), np.uint8)
    origins = [((i // columns) * tile_h, (i % columns) * tile_w) for i in range(len(windows))]
    for window, (y, x) in zip(windows, origins, strict=True):
        if window.shape[:2] != (height, width):
            raise ValueError(f"windows of shapes {window.shape[:2]} and {(height, width)}")
        pad = ((0, tile_h - height), (0, tile_w - width), (0, 0))
        sheet[y : y + tile_h, x : x + tile_w] = np.pad(window, pad, mode="edge")
    sheet = codec_roundtrip(sheet[None], "x264", crf=int(crf))[0]
    return [sheet[y : y + height, x : x + width].copy() for y, x in origins]


def reencoded(
    windows: Sequence[np.ndarray], cfg: QualityConfig, rng: np.random.Generator
) -> list[np.ndarray]:
    """With probability ``quality.reencode_p``, the windows re-encoded at one CRF drawn from
    ``quality.reencode_crf`` (:func:`reencode_windows`); else as they are."""
    if cfg.reencode_p <= 0 or rng.random() >= cfg.reencode_p:
        return list(windows)
    low, high = cfg.reencode_crf
    return reencode_windows(windows, int(rng.integers(low, high + 1)))


def random_window(frame: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size`` x ``size`` window of a frame (edge-padded when the frame is smaller)."""
    height, width = frame.shape[:2]
    if height < size or width < size:
        pad_h, pad_w = max(0, size - height), max(0, size - width)
        frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        height, width = frame.shape[:2]
    y = int(rng.integers(0, height - size + 1))
    x = int(rng.integers(0, width - size + 1))
    return frame[y : y + size, x : x + size]


def crop_windows(frame: np.ndarray, crop: int, margin: int) -> list[np.ndarray]:
    """The windows around the five scored crops (:func:`~mosaicflow.quality.score.five_crops`):
    each crop with ``margin`` pixels of context, mirrored where the crop meets the frame's edge."""
    frame = padded_to(frame, crop)
    padded = cv2.copyMakeBorder(frame, margin, margin, margin, margin, cv2.BORDER_REFLECT_101)
    size = crop + 2 * margin
    return [padded[y : y + size, x : x + size] for y, x in crop_origins(*frame.shape[:2], crop)]


def make_sample(
    frame: np.ndarray, label: int, cfg: QualityConfig, rng: np.random.Generator
) -> np.ndarray:
    """One training crop ``(crop, crop, 3)`` of ``frame`` showing class ``label``, re-encoded
    as :func:`reencoded` says."""
    margin = window_margin(cfg)
    window = random_window(frame, cfg.crop + 2 * margin, rng)
    degraded = degrade_window(np.ascontiguousarray(window), label, cfg, rng)
    degraded = reencoded([degraded], cfg, rng)[0]
    return degraded[margin : margin + cfg.crop, margin : margin + cfg.crop]
