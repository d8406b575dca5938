"""Tiny synthetic inputs of the dataset tests: a video, its frames index and region table."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pandas as pd
import pytest

from mosaicflow.config import build, validate_config
from mosaicflow.datasets.clips.config import RestorationDatasetConfig
from mosaicflow.io import write_parquet
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.video.config import FramesConfig
from mosaicflow.video.frames import extract_frames
from mosaicflow.yolo.infer import encode_rle, rows_frame

cv2.setNumThreads(1)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping):
            base[key] = _merge(dict(base.get(key, {})), value)
        else:
            base[key] = value
    return base


def full_config(profile: str = "demo", **sections: Mapping[str, Any]) -> dict[str, Any]:
    """The validated config (schema defaults) with per-section overrides."""
    config: dict[str, Any] = {"profile": profile}
    for name, over in sections.items():
        config[name] = _merge({}, over)
    validate_config(config)
    return copy.deepcopy(config)


#: Clip cut settings of the small synthetic sources (short clips, 32 px).
CLIP_CFG: dict[str, Any] = dict(
    min_seconds=0.5,
    max_seconds=1.2,
    stride_seconds=0.8,
    out_size=32,
    max_clips_per_video=None,
    smooth_seconds=0.3,
)


def make_cfg(**overrides: Any) -> RestorationDatasetConfig:
    """A ``RestorationDatasetConfig`` from the schema defaults with nested overrides."""
    return build(
        RestorationDatasetConfig, full_config(restoration_dataset=overrides)["restoration_dataset"]
    )


def mosaic_cfg(**overrides: Any) -> MosaicConfig:
    """The `mosaic:` config (schema defaults, cheap degradations unless overridden)."""
    return build(MosaicConfig, full_config(mosaic=overrides)["mosaic"])


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random RGB image with some detail."""
    small = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


@dataclass
class Source:
    """A synthetic source video with its frames index and region table."""

    video: Path
    index: Path
    regions: Path
    frames: np.ndarray  # (N, H, W, 3) what was encoded
    masks: dict[int, dict[int, np.ndarray]]  # track -> frame -> bool mask


def make_source(
    folder: Path,
    *,
    n: int = 24,
    size: tuple[int, int] = (72, 96),
    fps: int = 10,
    seed: int = 0,
    tracks: int = 1,
    cut_at: int | None = None,
    missing: tuple[int, ...] = (),
    codec: str = "libx264",
) -> Source:
    """Write a video with ``tracks`` moving squares, its index (real frames stage) and regions.

    Args:
        folder: where to write ``video.mp4`` (or ``.mkv``), ``index.parquet``, ``regions.parquet``.
        n: frames.
        size: ``(H, W)``.
        fps: frame rate.
        seed: texture seed.
        tracks: number of moving squares (each a track).
        cut_at: overwrite the index's scene ids so a new scene starts at this frame.
        missing: frames where track 1 is not detected.
        codec: ``libx264`` (.mp4) or ``ffv1`` (.mkv).
    """
    rng = np.random.default_rng(seed)
    h, w = size
    background = texture(rng, h + n, w + 2 * n)
    patches = [texture(rng, 20, 20) for _ in range(tracks)]
    frames, masks = [], {t + 1: {} for t in range(tracks)}
    for i in range(n):
        img = np.ascontiguousarray(background[i // 2 : i // 2 + h, i : i + w])
        for t in range(tracks):
            y, x = 8 + 30 * t, 6 + 2 * i + 10 * t
            img[y : y + 20, x : x + 20] = patches[t]
            mask = np.zeros((h, w), bool)
            mask[y : y + 20, x : x + 20] = True
            masks[t + 1][i] = mask
        frames.append(img)
    suffix = ".mp4" if codec == "libx264" else ".mkv"
    video = folder / f"video{suffix}"
    folder.mkdir(parents=True, exist_ok=True)
    with av.open(str(video), "w") as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p" if codec == "libx264" else "bgr0"
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.options = {"crf": "14", "preset": "ultrafast"}
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    index_path, regions_path = folder / "index.parquet", folder / "regions.parquet"
    frames_cfg = build(FramesConfig, full_config()["frames"])
    extract_frames(frames_cfg, video, index_path, folder / "probe.json")
    index = pd.read_parquet(index_path)
    index["kept"] = True
    index["drop_reason"] = ""
    index["scene"] = 0 if cut_at is None else (index["frame"] >= cut_at).astype("int32")
    index["scene"] = index["scene"].astype("int32")
    write_parquet(index_path, index)
    rows = []
    for i in range(n):
        inst = 0
        for track, per_frame in masks.items():
            if track == 1 and i in missing:
                continue
            mask = per_frame[i]
            ys, xs = np.nonzero(mask)
            rows.append(
                {
                    "frame": i,
                    "time": i / fps,
                    "instance": inst,
                    "track_id": track,
                    "class_id": 0,
                    "score": 0.9,
                    "x0": float(xs.min()),
                    "y0": float(ys.min()),
                    "x1": float(xs.max() + 1),
                    "y1": float(ys.max() + 1),
                    "area": int(mask.sum()),
                    "rle": encode_rle(mask),
                }
            )
            inst += 1
        if inst == 0:
            rows.append(
                {
                    "frame": i,
                    "time": i / fps,
                    "instance": -1,
                    "track_id": -1,
                    "class_id": -1,
                    "score": 0.0,
                    "x0": 0.0,
                    "y0": 0.0,
                    "x1": 0.0,
                    "y1": 0.0,
                    "area": 0,
                    "rle": None,
                }
            )
    write_parquet(regions_path, rows_frame(rows))
    return Source(video, index_path, regions_path, np.stack(frames), masks)


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    """One shared synthetic source (24 frames, 10 fps, one track)."""
    return make_source(tmp_path_factory.mktemp("source"))
