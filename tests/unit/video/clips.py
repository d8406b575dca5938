"""Synthetic test clips (PyAV) and the ``ffmpeg -vf mpdecimate`` reference for the video tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

FFMPEG = shutil.which("ffmpeg")
NEEDS_FFMPEG = pytest.mark.skipif(
    FFMPEG is None,
    reason="SKIPPED LOUDLY: Debian's ffmpeg is missing, the mpdecimate parity reference "
    "did not run "
    "(run `make test-deps` as root)",
)

_DECISION = re.compile(r"\b(keep|drop) pts:(\S+) pts_time:\S+ drop_count:-?\d+")


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random RGB image (compresses well, has edges and gradients)."""
    small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    _yy, xx = np.mgrid[0:h, 0:w]
    img[..., 0] = (img[..., 0].astype(np.int32) // 2 + (xx * 127 // max(w - 1, 1))).astype(np.uint8)
    return img


def scripted_frames(seed: int, h: int, w: int, n: int = 48) -> list[np.ndarray]:
    """Frames with static stretches, weak and strong noise, a fade, slow motion and a cut."""
    rng = np.random.default_rng(seed)
    base = texture(rng, h, w)
    other = texture(rng, h, w)
    seg = max(1, n // 8)
    frames: list[np.ndarray] = []
    for i in range(n):
        phase = i * 8 // n
        if phase == 0:  # static
            img = base.copy()
        elif phase == 1:  # weak noise (near-duplicates)
            img = np.clip(base + rng.normal(0, 1.5, base.shape), 0, 255).astype(np.uint8)
        elif phase == 2:  # slow fade
            img = np.clip(base * (1.0 - 0.03 * (i % seg)), 0, 255).astype(np.uint8)
        elif phase == 3:  # slow motion of a small square
            img = base.copy()
            x = 4 + (i % seg) * 2
            img[h // 3 : h // 3 + 10, x : x + 10] = (250, 20, 20)
        elif phase == 4:  # strong noise
            img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        elif phase == 5:  # scene cut then static
            img = other.copy()
        elif phase == 6:  # sparse blinking dots: few changed blocks (tests frac)
            img = other.copy()
            if i % 2:
                for k in range(1 + i % 5):
                    y, x = (k * 37) % (h - 8), (k * 53) % (w - 8)
                    img[y : y + 6, x : x + 6] = 255
        else:  # fade to black
            img = np.clip(other * (1.0 - (i % seg) / seg), 0, 255).astype(np.uint8)
        frames.append(img)
    return frames


def write_video(
    path: Path,
    frames: list[np.ndarray],
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    fps: int = 25,
    options: dict[str, str] | None = None,
    rotation: int | None = None,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
) -> Path:
    """Encode RGB frames with PyAV (deterministic, single-threaded)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        h, w = frames[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.options = {"crf": "20", "preset": "ultrafast", **(options or {})}
        elif options:
            stream.options = options
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def ffmpeg_keep_flags(path: Path, vf: str) -> list[bool]:
    """Per input frame, whether ``ffmpeg -vf <vf>`` (an mpdecimate chain) kept it."""
    assert FFMPEG is not None
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "debug", "-i", str(path)]
    cmd += ["-an", "-vf", vf, "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        raise AssertionError(f"ffmpeg failed on {path}: {proc.stderr[-2000:]}")
    return [m.group(1) == "keep" for m in _DECISION.finditer(proc.stderr)]
