"""Whole-frame pixel operations shared by the degradations: Gaussian blur, noise, JPEG."""

from __future__ import annotations

import cv2
import numpy as np


def gaussian_blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every frame ``(T, H, W, C)`` with one sigma."""
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])


def add_noise(frames: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise (8-bit levels), clipped to 0..255."""
    noise = rng.normal(0.0, sigma, size=frames.shape).astype(np.float32)
    return np.clip(frames.astype(np.float32) + noise, 0, 255).round().astype(np.uint8)


def jpeg_roundtrip(frames: np.ndarray, quality: int) -> np.ndarray:
    """Encode every RGB frame as JPEG at ``quality`` and decode it again."""
    out = np.empty_like(frames)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    for i, frame in enumerate(frames):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out[i] = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out
