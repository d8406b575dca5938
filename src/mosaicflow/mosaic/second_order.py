"""The second-order degradation pipeline (Real-ESRGAN's recipe) for clips and images.

Two passes of blur (six kernel families or a sinc filter), resize (relative to the input size,
random filter), noise (Gaussian or Poisson, colour or grey) and JPEG, then the resize back to
the input size with an optional sinc filter and the second pass's JPEG in a random order.

Everything is drawn first, in a fixed order, into a JSON-compatible plan
(:func:`draw_plan`); :func:`apply_plan` runs it. A clip shares one plan (one kernel, one scale,
one quality); the noise is independent per frame and pixel, from seeds in the plan.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from mosaicflow.mosaic.config import (
    INTERPOLATIONS,
    KERNELS,
    DegradationPassConfig,
    KernelBlurConfig,
    SecondOrderConfig,
)
from mosaicflow.mosaic.pixel_ops import jpeg_roundtrip

_CV2_FILTERS = {
    "area": cv2.INTER_AREA,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
}


def kernel(
    family: str, size: int, sigma: tuple[float, float], theta: float, beta: float = 1.0
) -> np.ndarray:
    """A normalised ``size x size`` blur kernel of one of :data:`KERNELS`.

    ``sigma`` holds the sigmas along the two rotated axes (the ``*_iso`` families use the first
    for both), ``theta`` the rotation in radians, ``beta`` the shape of the generalised and
    plateau families.
    """
    if family not in KERNELS:
        raise ValueError(f"unknown kernel family {family!r}; expected one of {KERNELS}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    sx, sy = (sigma[0], sigma[0]) if family.endswith("_iso") or family == "iso" else sigma
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    cov = rotation @ np.diag([sx * sx, sy * sy]) @ rotation.T
    axis = np.arange(size, dtype=np.float64) - size // 2
    xx, yy = np.meshgrid(axis, axis)
    grid = np.stack([xx, yy], axis=-1)
    distance = np.einsum("...i,ij,...j->...", grid, np.linalg.inv(cov), grid)
    if family.startswith("generalized"):
        k = np.exp(-0.5 * np.power(distance, beta))
    elif family.startswith("plateau"):
        k = 1.0 / (np.power(distance, beta) + 1.0)
    else:
        k = np.exp(-0.5 * distance)
    return (k / k.sum()).astype(np.float32)


def sinc_kernel(cutoff: float, size: int) -> np.ndarray:
    """A normalised circular low-pass (2-D sinc) kernel with cut-off ``cutoff`` in radians."""
    from scipy import special  # 0.3 s to import: only the sinc kernel needs it

    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    axis = np.arange(size, dtype=np.float64) - size // 2
    xx, yy = np.meshgrid(axis, axis)
    r = np.hypot(xx, yy)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    k[size // 2, size // 2] = cutoff**2 / (4 * np.pi)
    return (k / k.sum()).astype(np.float32)


def _draw_kernel(cfg: KernelBlurConfig, rng: np.random.Generator) -> dict[str, Any]:
    """A kernel's description: family (or sinc), size and shape."""
    sizes = np.arange(cfg.size[0] | 1, cfg.size[1] + 1, 2)
    size = int(sizes[int(rng.integers(len(sizes)))])  # the config refuses a range without one
    sinc = bool(rng.random() < cfg.sinc_p)
    weights = np.asarray(cfg.kernels.weights())
    family = KERNELS[int(rng.choice(len(KERNELS), p=weights / weights.sum()))]
    sigma = [round(float(rng.uniform(*cfg.sigma)), 4) for _ in range(2)]
    theta = round(float(rng.uniform(-math.pi, math.pi)), 4)
    beta_range = cfg.beta_plateau if family.startswith("plateau") else cfg.beta_generalized
    beta = round(float(rng.uniform(*beta_range)), 4)
    cutoff = round(float(rng.uniform(math.pi / 3 if size < 13 else math.pi / 5, math.pi)), 4)
    if sinc:
        return {"kernel": "sinc", "size": size, "cutoff": cutoff}
    drawn: dict[str, Any] = {"kernel": family, "size": size, "sigma": sigma, "theta": theta}
    if family.startswith(("generalized", "plateau")):
        drawn["beta"] = beta
    return drawn


def _draw_pass(cfg: DegradationPassConfig, rng: np.random.Generator) -> dict[str, Any]:
    """One pass's steps; a step left out was not drawn to happen."""
    do = {step: bool(rng.random() < getattr(cfg, step).p) for step in ("blur", "resize", "noise")}
    do["jpeg"] = bool(rng.random() < cfg.jpeg.p)
    blur = _draw_kernel(cfg.blur, rng)
    r = cfg.resize
    weights = np.array([r.up, r.down, r.keep], dtype=np.float64)
    direction = ("up", "down", "keep")[int(rng.choice(3, p=weights / weights.sum()))]
    scale = {
        "up": float(rng.uniform(1.0, r.scale[1])),
        "down": float(rng.uniform(r.scale[0], 1.0)),
        "keep": 1.0,
    }[direction]
    interpolation = INTERPOLATIONS[int(rng.integers(len(INTERPOLATIONS)))]
    n = cfg.noise
    gaussian, gray = bool(rng.random() < n.gaussian_p), bool(rng.random() < n.gray_p)
    sigma, poisson = float(rng.uniform(*n.sigma)), float(rng.uniform(*n.poisson_scale))
    noise_seed = int(rng.integers(2**63))
    quality = int(rng.integers(cfg.jpeg.quality[0], cfg.jpeg.quality[1] + 1))
    steps: dict[str, Any] = {}
    if do["blur"]:
        steps["blur"] = blur
    if do["resize"]:
        steps["resize"] = {"scale": round(scale, 4), "interpolation": interpolation}
    if do["noise"]:
        kind = "gaussian" if gaussian else "poisson"
        level = {"sigma": round(sigma, 4)} if gaussian else {"scale": round(poisson, 4)}
        steps["noise"] = {"kind": kind, "gray": gray, **level, "seed": noise_seed}
    if do["jpeg"]:
        steps["jpeg"] = {"quality": quality}
    return steps


def draw_plan(cfg: SecondOrderConfig, rng: np.random.Generator) -> dict[str, Any]:
    """Draw the whole pipeline from ``rng``: ``{"first", "second", "final"}``."""
    first = _draw_pass(cfg.first, rng)
    second = _draw_pass(cfg.second, rng)
    jpeg_first = bool(rng.random() < 0.5)
    sinc = bool(rng.random() < cfg.final_sinc_p)
    size = int(rng.choice([7, 9, 11, 13, 15, 17, 19, 21]))
    cutoff = round(float(rng.uniform(math.pi / 3 if size < 13 else math.pi / 5, math.pi)), 4)
    interpolation = INTERPOLATIONS[int(rng.integers(len(INTERPOLATIONS)))]
    final: dict[str, Any] = {"order": "jpeg_first" if jpeg_first else "resize_first"}
    final["interpolation"] = interpolation
    if sinc:
        final["sinc"] = {"size": size, "cutoff": cutoff}
    return {"first": first, "second": second, "final": final}


def apply_plan(frames: np.ndarray, plan: dict[str, Any]) -> np.ndarray:
    """Run a plan of :func:`draw_plan` on uint8 RGB frames ``(T, H, W, 3)``; same shape out."""
    size = frames.shape[1:3]
    out = _apply_pass(frames, plan["first"], size, jpeg=True)
    out = _apply_pass(out, plan["second"], size, jpeg=False)
    final = plan["final"]
    jpeg = plan["second"].get("jpeg")
    if jpeg and final["order"] == "jpeg_first":
        out = jpeg_roundtrip(out, jpeg["quality"])
    out = _resize(out, size, final["interpolation"])
    if "sinc" in final:
        out = _filter(out, sinc_kernel(final["sinc"]["cutoff"], final["sinc"]["size"]))
    if jpeg and final["order"] == "resize_first":
        out = jpeg_roundtrip(out, jpeg["quality"])
    return out if out is not frames else frames.copy()


def _apply_pass(
    frames: np.ndarray, steps: dict[str, Any], size: tuple[int, int], *, jpeg: bool
) -> np.ndarray:
    out = frames
    if "blur" in steps:
        b = steps["blur"]
        k = (
            sinc_kernel(b["cutoff"], b["size"])
            if b["kernel"] == "sinc"
            else kernel(b["kernel"], b["size"], tuple(b["sigma"]), b["theta"], b.get("beta", 1.0))
        )
        out = _filter(out, k)
    if "resize" in steps:
        scale = steps["resize"]["scale"]
        target = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        out = _resize(out, target, steps["resize"]["interpolation"])
    if "noise" in steps:
        out = _noise(out, steps["noise"])
    if jpeg and "jpeg" in steps:
        out = jpeg_roundtrip(out, steps["jpeg"]["quality"])
    return out


def _filter(frames: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Convolve every uint8 frame with ``k`` (reflected borders; OpenCV rounds and saturates)."""
    return np.stack([cv2.filter2D(f, -1, k, borderType=cv2.BORDER_REFLECT_101) for f in frames])


def _resize(frames: np.ndarray, target: tuple[int, int], interpolation: str) -> np.ndarray:
    """Resize every frame to ``target`` = (height, width); a no-op at the same size."""
    if frames.shape[1:3] == tuple(target):
        return frames
    flag = _CV2_FILTERS[interpolation]
    return np.stack([cv2.resize(f, (target[1], target[0]), interpolation=flag) for f in frames])


#: Below this mean (grey levels) shot noise is drawn from the Poisson law itself; above it, from
#: its normal approximation (the same mean and variance), which is several times faster.
EXACT_POISSON_BELOW = 16.0


def _noise(frames: np.ndarray, noise: dict[str, Any]) -> np.ndarray:
    """Gaussian or Poisson noise, colour or grey, independent per frame and pixel."""
    rng = np.random.default_rng(noise["seed"])
    x = frames.astype(np.float32)
    shape = (*frames.shape[:-1], 1) if noise["gray"] else frames.shape
    if noise["kind"] == "gaussian":
        delta = rng.standard_normal(shape, dtype=np.float32) * np.float32(noise["sigma"])
    else:
        base = x.mean(axis=-1, keepdims=True) if noise["gray"] else x
        delta = shot_noise(base, rng) * np.float32(noise["scale"])
    return np.clip(x + delta, 0, 255).round().astype(np.uint8)


def shot_noise(mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson(mean) - mean per element of a float32 array of means in grey levels."""
    delta = rng.standard_normal(mean.shape, dtype=np.float32) * np.sqrt(mean)
    small = mean < EXACT_POISSON_BELOW
    if small.any():
        low = mean[small]
        delta[small] = rng.poisson(low).astype(np.float32) - low
    return delta
