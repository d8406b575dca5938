"""Tiny synthetic test videos with a known mosaic: original, mosaicked input, truth masks."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

HEIGHT, WIDTH, FPS, FRAMES = 48, 64, 10, 8
#: Frames 2..5 carry a mosaic in this box (x0, y0, x1, y1); the others are clean.
BOX = (16, 8, 48, 40)
MOSAIC_FRAMES = range(2, 6)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    cv2.setNumThreads(1)


def textured_frames(n: int, seed: int = 0) -> np.ndarray:
    """``(n, H, W, 3)`` RGB frames of a smooth random texture panning one pixel per frame."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (HEIGHT // 4 + 2, (WIDTH + n) // 4 + 2, 3), dtype=np.uint8)
    big = cv2.resize(small, (small.shape[1] * 4, small.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    return np.stack([big[:HEIGHT, i : i + WIDTH] for i in range(n)])


def true_mask(frame: int) -> np.ndarray:
    """The mosaic mask of a frame (bool)."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    if frame in MOSAIC_FRAMES:
        x0, y0, x1, y1 = BOX
        mask[y0:y1, x0:x1] = True
    return mask


def pixelate(frames: np.ndarray, block: int = 8) -> np.ndarray:
    """The frames with block means inside each frame's true mask."""
    out = frames.copy()
    for i, frame in enumerate(frames):
        small = cv2.resize(frame, (WIDTH // block, HEIGHT // block), interpolation=cv2.INTER_AREA)
        blocks = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
        mask = true_mask(i)
        out[i][mask] = blocks[mask]
    return out


def write_video(path: Path, frames: np.ndarray, fps: int = FPS) -> Path:
    """x264 (near lossless) at ``fps``, no audio."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": "1", "preset": "ultrafast", "threads": "1"}
        for image in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    return path


def write_truth(path: Path, frames: int) -> Path:
    """The mosaic truth mask video (component id 1 inside the mask)."""
    from mosaicflow.formats.truth import truth_mask_writer

    with truth_mask_writer(path, FPS, WIDTH, HEIGHT) as write:
        for i in range(frames):
            write(true_mask(i).astype(np.uint8))
    return path


def masks_table(masks: dict[int, np.ndarray], frames: int):
    """A ``regions.parquet``-format table of detector masks (frame -> bool mask)."""
    from mosaicflow.yolo.infer import encode_rle, rows_frame

    rows = []
    for frame in range(frames):
        mask = masks.get(frame)
        found = mask is not None and mask.any()
        ys, xs = np.nonzero(mask) if found else ([0], [0])
        rows.append(
            {
                "frame": frame,
                "time": frame / FPS,
                "instance": 0 if found else -1,
                "track_id": 0 if found else -1,
                "class_id": 0 if found else -1,
                "score": 0.9 if found else 0.0,
                "x0": float(min(xs)),
                "y0": float(min(ys)),
                "x1": float(max(xs) + 1),
                "y1": float(max(ys) + 1),
                "area": int(mask.sum()) if found else 0,
                "rle": encode_rle(mask) if found else None,
            }
        )
    return rows_frame(rows)


@dataclass(frozen=True)
class SyntheticSet:
    """One synthetic test video: original, mosaicked input, truth, and restored candidates."""

    original: Path
    mosaic: Path
    truth: Path
    perfect: Path  # the original's bytes: a perfect restorer
    identity: Path  # the input's bytes: a restorer that changes nothing
    masks: Path  # the detector found exactly the true masks


@pytest.fixture
def synthetic(tmp_path: Path) -> SyntheticSet:
    frames = textured_frames(FRAMES)
    original = write_video(tmp_path / "original.mp4", frames)
    mosaic = write_video(tmp_path / "mosaic.mp4", pixelate(frames))
    truth = write_truth(tmp_path / "truth.mkv", FRAMES)
    perfect = tmp_path / "perfect.mp4"
    identity = tmp_path / "identity.mp4"
    shutil.copyfile(original, perfect)
    shutil.copyfile(mosaic, identity)
    masks = tmp_path / "masks.parquet"
    masks_table({i: true_mask(i) for i in MOSAIC_FRAMES}, FRAMES).to_parquet(masks)
    return SyntheticSet(original, mosaic, truth, perfect, identity, masks)
