"""The classifier's classes and the degradations that make their training samples.

A sample is a square crop of a kept training frame at full resolution. ``clean`` leaves it as it
is; the others degrade a slightly larger window around it with mosaicflow's own degradation
library (so borders see real neighbours) and cut the crop from the middle:

- ``codec``: an x264 round trip at a very high CRF;
- ``blur``: a Gaussian blur;
- ``upscale``: shrunk (area) and enlarged back (bicubic), as a low-resolution source;
- ``mosaic``: a random ellipse of the crop pixelated, as an already censored source.
"""

from __future__ import annotations

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
    """One training crop ``(crop, crop, 3)`` of ``frame`` showing class ``label``."""
    margin = window_margin(cfg)
    window = random_window(frame, cfg.crop + 2 * margin, rng)
    degraded = degrade_window(np.ascontiguousarray(window), label, cfg, rng)
    return degraded[margin : margin + cfg.crop, margin : margin + cfg.crop]
