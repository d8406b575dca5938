"""Scenes from region tracks: which kept frames of which track become which clip.

A scene is a run of kept frames in which one track is present, allowing gaps of at most
``max_gap_frames`` kept frames without a detection; a scene cut of the frames stage ends it. A
scene shorter than ``min_seconds`` becomes a skipped candidate (reason ``too_short``); a longer
one is cut into windows of at most ``max_seconds`` starting every ``stride_seconds``. At most
``max_clips_per_video`` candidates are cut (evenly spread; the others get reason ``max_clips``).
Everything here is pure: tables in, :class:`ClipPlan` objects out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mosaicflow.datasets.clips.config import RestorationDatasetConfig

#: Columns of ``regions.parquet`` this stage reads.
REGION_COLUMNS = ("frame", "instance", "track_id", "x0", "y0", "x1", "y1", "area", "rle")
#: Columns of the frames index this stage reads.
INDEX_COLUMNS = ("frame", "pts", "time", "kept", "scene")


class RegionTableError(ValueError):
    """A region table that does not match its video or frames index (names the file)."""


@dataclass(frozen=True)
class ClipPlan:
    """One candidate clip.

    Attributes:
        clip: clip number within the video (names the files ``<video>-<clip:06d>``).
        track: the region track id.
        scene: the frames stage's scene id.
        frames: kept frame numbers of the clip, in order.
        detected: per frame, whether the track was detected there (else a filled gap).
        reason: ``""`` when the clip is cut, else why not (``too_short``, ``max_clips``).
    """

    clip: int
    track: int
    scene: int
    frames: tuple[int, ...]
    detected: tuple[bool, ...]
    reason: str = ""


def frame_counts(cfg: RestorationDatasetConfig, fps: float) -> tuple[int, int, int]:
    """``(min_len, max_len, stride)`` in frames for a video of ``fps``."""
    min_len = max(1, math.ceil(cfg.min_seconds * fps - 1e-9))
    max_len = max(min_len, math.floor(cfg.max_seconds * fps + 1e-9))
    stride = max(1, round(cfg.stride_seconds * fps))
    return min_len, max_len, stride


def check_tables(
    index: pd.DataFrame,
    regions: pd.DataFrame,
    frame_shape: tuple[int, int],
    *,
    index_path: Path | str,
    regions_path: Path | str,
) -> None:
    """Check that a frames index and a region table belong together and to the video.

    Args:
        index: the frames index.
        regions: the region table.
        frame_shape: ``(H, W)`` of the video's frames.
        index_path: the index file (for messages).
        regions_path: the region file (for messages).

    Raises:
        RegionTableError: missing columns, frame numbers the video does not have, or boxes
            outside the frame (a table made for another video or another size).
    """
    for table, cols, path in (
        (index, INDEX_COLUMNS, index_path),
        (regions, REGION_COLUMNS, regions_path),
    ):
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise RegionTableError(f"{path}: missing columns {missing}")
    known = set(index["frame"].astype(int))
    frames = regions["frame"].astype(int)
    unknown = sorted(set(frames) - known)
    if unknown:
        last = max(known) if known else -1
        raise RegionTableError(
            f"{regions_path}: frame {unknown[0]} is not in the frames index {index_path} "
            f"(frames 0..{last}): the region table does not match the video"
        )
    found = regions[regions["instance"] >= 0]
    if len(found):
        height, width = frame_shape
        bad = found[
            (found["x1"] > width + 0.5)
            | (found["y1"] > height + 0.5)
            | (found["x0"] < -0.5)
            | (found["y0"] < -0.5)
        ]
        if len(bad):
            row = bad.iloc[0]
            raise RegionTableError(
                f"{regions_path}: frame {int(row['frame'])}: box "
                f"({row['x0']:.0f}, {row['y0']:.0f}, {row['x1']:.0f}, {row['y1']:.0f}) lies "
                f"outside the {width}x{height} frame: the region table does not match the video"
            )


def _runs(positions: np.ndarray, scenes: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Split sorted kept-frame positions into runs ``(first, last)`` (inclusive)."""
    runs = []
    start = prev = int(positions[0])
    for pos in positions[1:]:
        pos = int(pos)
        if pos - prev > max_gap + 1 or scenes[pos] != scenes[prev]:
            runs.append((start, prev))
            start = pos
        prev = pos
    runs.append((start, prev))
    return runs


def plan_clips(
    index: pd.DataFrame, regions: pd.DataFrame, cfg: RestorationDatasetConfig, fps: float
) -> list[ClipPlan]:
    """Candidate clips of one video (cut and skipped), numbered in time order.

    Args:
        index: the frames index (``frame``, ``kept``, ``scene``).
        regions: the region table (rows with ``instance >= 0`` and ``track_id >= 0`` count).
        cfg: the stage config.
        fps: the video's frame rate (seconds -> frames).

    Returns:
        Candidates sorted by (first frame, track, length); ``clip`` numbers them from 0.
    """
    kept = index[index["kept"].astype(bool)].sort_values("frame")
    numbers = kept["frame"].to_numpy(np.int64)
    scenes = kept["scene"].to_numpy(np.int64)
    position = {int(f): i for i, f in enumerate(numbers)}
    found = regions[(regions["instance"] >= 0) & (regions["track_id"] >= 0)]
    found = found[found["frame"].isin(position)]
    min_len, max_len, stride = frame_counts(cfg, fps)
    raw: list[tuple[int, int, int, int, tuple[bool, ...], str]] = []
    for track, rows in found.groupby("track_id", sort=True):
        pos = np.unique([position[int(f)] for f in rows["frame"]])
        present = np.zeros(len(numbers), bool)
        present[pos] = True
        for first, last in _runs(pos, scenes, cfg.max_gap_frames):
            length = last - first + 1
            if length < min_len:
                raw.append(
                    (
                        first,
                        length,
                        int(track),
                        int(scenes[first]),
                        tuple(present[first : last + 1]),
                        "too_short",
                    )
                )
                continue
            start = 0
            while start + min_len <= length:
                n = min(max_len, length - start)
                a = first + start
                raw.append((a, n, int(track), int(scenes[a]), tuple(present[a : a + n]), ""))
                if start + n >= length:
                    break
                start += stride
    raw.sort(key=lambda r: (r[0], r[2], r[1]))
    cut = [i for i, r in enumerate(raw) if not r[5]]
    cap = cfg.max_clips_per_video
    if cap is not None and len(cut) > cap:
        chosen = {cut[round(float(k))] for k in np.linspace(0, len(cut) - 1, cap)}
        raw = [r if (i in chosen or r[5]) else (*r[:5], "max_clips") for i, r in enumerate(raw)]
    return [
        ClipPlan(
            clip=i,
            track=track,
            scene=scene,
            frames=tuple(int(f) for f in numbers[a : a + n]),
            detected=tuple(bool(d) for d in det),
            reason=reason,
        )
        for i, (a, n, track, scene, det, reason) in enumerate(raw)
    ]
