"""Textures of the demo world: real photographs shipped in scikit-image's wheel, and patterns.

Three disjoint families keep the task learnable: targets wear colour photographs, distractors
wear grey-level photographs (tinted) and regular patterns, backgrounds use other photographs and
patterns. Only files inside the installed ``skimage/data/`` folder are read (no downloads).
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

#: Colour photographs whose crops texture the targets.
TARGET_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")
#: Photographs (grey ones get tinted) that texture the unlabelled distractors.
DISTRACTOR_PHOTOS = ("brick.png", "gravel.png", "camera.png", "coins.png", "text.png", "ihc.png")
#: Photographs used as backgrounds.
BACKGROUND_PHOTOS = (
    "hubble_deep_field.jpg",
    "retina.jpg",
    "grass.png",
    "moon.png",
    "page.png",
    "motorcycle_right.png",
    "clock_motion.png",
)
#: The RGBA logo used (beside drawn logos) for the `logo` watermark class.
LOGO_PHOTO = "logo.png"
#: The portrait whose head is the world's face (``world.faces``), from matplotlib's sample data.
FACE_PHOTO = "grace_hopper.jpg"
#: The face box (x0, y0, x1, y1) in :data:`FACE_PHOTO`, as the nudenet base finds it.
FACE_BOX = (168, 138, 356, 345)
#: The head around the face: the face box grown this much in width and in height.
HEAD_GROW = (1.6, 1.8)


def data_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image."""
    import skimage

    return Path(skimage.__file__).resolve().parent / "data"


@functools.lru_cache(maxsize=32)
def load_photo(name: str) -> np.ndarray:
    """Load a photo of ``skimage/data`` as a read-only BGR uint8 array (BGRA for ``logo.png``).

    Raises:
        FileNotFoundError: naming the file when the installed scikit-image lacks it.
    """
    path = data_dir() / name
    flags = cv2.IMREAD_UNCHANGED if name == LOGO_PHOTO else cv2.IMREAD_COLOR
    image = cv2.imread(str(path), flags)
    if image is None:
        raise FileNotFoundError(f"{path}: missing or unreadable scikit-image sample photo")
    image.setflags(write=False)
    return image


@functools.lru_cache(maxsize=1)
def load_face_photo() -> np.ndarray:
    """:data:`FACE_PHOTO` from the installed matplotlib, as a read-only BGR uint8 array.

    Raises:
        FileNotFoundError: naming the file when the installed matplotlib lacks it.
    """
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / FACE_PHOTO
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: missing or unreadable matplotlib sample photo")
    image.setflags(write=False)
    return image


def head(width: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """The portrait's head scaled to ``width`` pixels: its BGR texture, its alpha (the
    inscribed ellipse, float32 in [0, 1]) and its face box in the texture's pixels."""
    photo = load_face_photo()
    x0, y0, x1, y1 = FACE_BOX
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = (x1 - x0) * HEAD_GROW[0] / 2, (y1 - y0) * HEAD_GROW[1] / 2
    crop = photo[round(cy - half_h) : round(cy + half_h), round(cx - half_w) : round(cx + half_w)]
    scale = width / crop.shape[1]
    height = max(2, round(crop.shape[0] * scale))
    texture = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
    alpha8 = np.zeros((height, width), np.uint8)
    centre, axes = (width * 8 - 8, height * 8 - 8), (width * 8 - 16, height * 8 - 16)
    cv2.ellipse(alpha8, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_AA, shift=4)
    left, top = round(cx - half_w), round(cy - half_h)
    face = ((x0 - left) * scale, (y0 - top) * scale, (x1 - left) * scale, (y1 - top) * scale)
    return texture, alpha8.astype(np.float32) / 255.0, face


def _tint(gray_bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colourise a grey-level image with a random two-colour ramp."""
    g = gray_bgr[..., :1].astype(np.float32) / 255.0
    lo = rng.uniform(0, 120, 3).astype(np.float32)
    hi = rng.uniform(130, 255, 3).astype(np.float32)
    return np.clip(lo + g * (hi - lo), 0, 255).astype(np.uint8)


def _is_grey(image: np.ndarray) -> bool:
    sample = image[::16, ::16].astype(np.int16)
    return bool(np.abs(sample[..., 0] - sample[..., 2]).max() < 8)


def photo_crop(
    name: str, height: int, width: int, rng: np.random.Generator, tint_grey: bool = True
) -> np.ndarray:
    """A random crop of a photo, rescaled by U(0.6, 1.4) (upscaled if it is too small)."""
    photo = load_photo(name)
    scale = rng.uniform(0.6, 1.4)
    scale = max(scale, height / photo.shape[0] * 1.05, width / photo.shape[1] * 1.05)
    resized = cv2.resize(
        photo,
        (
            max(width, round(photo.shape[1] * scale)),
            max(height, round(photo.shape[0] * scale)),
        ),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    y = int(rng.integers(0, resized.shape[0] - height + 1))
    x = int(rng.integers(0, resized.shape[1] - width + 1))
    crop = np.ascontiguousarray(resized[y : y + height, x : x + width, :3])
    if rng.random() < 0.5:
        crop = crop[:, ::-1].copy()
    if tint_grey and _is_grey(crop):
        crop = _tint(crop, rng)
    return crop


def pattern(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A structured (never i.i.d.) pattern: stripes, checkers, rings, plaid or a wave field."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    period = rng.uniform(8, 40)
    kind = int(rng.integers(0, 5))
    if kind == 0:  # stripes
        field = 0.5 + 0.5 * np.sin(2 * np.pi * u / period)
    elif kind == 1:  # checkers
        field = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    elif kind == 2:  # rings
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        field = 0.5 + 0.5 * np.sin(2 * np.pi * np.hypot(yy - cy, xx - cx) / period)
    elif kind == 3:  # plaid
        field = 0.25 * (2 + np.sin(2 * np.pi * u / period) + np.sin(2 * np.pi * v / (period * 1.7)))
    else:  # interfering waves
        field = np.zeros_like(xx)
        for _ in range(3):
            a = rng.uniform(0, np.pi)
            p = rng.uniform(10, 60)
            field += np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / p + rng.uniform(0, 6))
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    c0 = rng.uniform(0, 255, 3).astype(np.float32)
    c1 = rng.uniform(0, 255, 3).astype(np.float32)
    image = c0 + field[..., None] * (c1 - c0)
    return np.clip(image, 0, 255).astype(np.uint8)
