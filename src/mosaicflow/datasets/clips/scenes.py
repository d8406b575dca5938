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

from mosaicflow.datasets.clips.config import ClipCuttingConfig

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


def frame_counts(cfg: ClipCuttingConfig, fps: float) -> tuple[int, int, int]:
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


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return float(iw * ih / union) if union > 0 else 0.0


def link_tracks(
    index: pd.DataFrame, regions: pd.DataFrame, max_gap: int, min_iou: float | None
) -> pd.DataFrame:
    """Join tracklets the tracker split (an id switch) into one track.

    A track that starts at most ``max_gap`` kept frames after another one ended, in the same
    scene, with a first box overlapping that track's last box by IoU >= ``min_iou``, continues
    it (the best overlap wins; each track has at most one successor). Rows on frames that are
    not kept are dropped, as the planner ignores them.

    Args:
        index: the frames index (``frame``, ``kept``, ``scene``).
        regions: found regions (``instance >= 0``, ``track_id >= 0``).
        max_gap: ``restoration_dataset.max_gap_frames``.
        min_iou: ``restoration_dataset.link_iou`` (None: no linking).

    Returns:
        The rows with ``source_track`` (the tracker's id) and ``track_id`` set to the id of the
        first track of its chain.
    """
    kept = index[index["kept"].astype(bool)].sort_values("frame")
    position = {int(f): i for i, f in enumerate(kept["frame"])}
    scenes = kept["scene"].to_numpy(np.int64)
    rows = regions[regions["frame"].isin(position)].copy()
    rows["source_track"] = rows["track_id"].astype("int64")
    if min_iou is None or rows.empty:
        return rows
    pos = rows["frame"].map(position).to_numpy(np.int64)
    spans = {}
    for track in sorted(rows["source_track"].unique()):
        mine = np.flatnonzero(rows["source_track"].to_numpy() == track)
        order = mine[np.argsort(pos[mine], kind="stable")]
        first, last = rows.iloc[order[0]], rows.iloc[order[-1]]
        spans[int(track)] = (
            int(pos[order[0]]),
            int(pos[order[-1]]),
            np.array([first.x0, first.y0, first.x1, first.y1], np.float64),
            np.array([last.x0, last.y0, last.x1, last.y1], np.float64),
        )
    successor: dict[int, int] = {}
    predecessor: dict[int, int] = {}
    for b in sorted(spans, key=lambda t: (spans[t][0], t)):
        start, _, first_box, _ = spans[b]
        best, best_iou = None, float(min_iou)
        for a, (_, end, _, last_box) in spans.items():
            if a == b or a in successor or not 0 < start - end <= max_gap + 1:
                continue
            if scenes[start] != scenes[end]:
                continue
            iou = _box_iou(last_box, first_box)
            if iou >= best_iou and (best is None or iou > best_iou or a < best):
                best, best_iou = a, iou
        if best is not None:
            successor[best], predecessor[b] = b, best
    head = {}
    for track in spans:
        first = track
        while first in predecessor:
            first = predecessor[first]
        head[track] = first
    rows["track_id"] = rows["source_track"].map(head).astype(rows["track_id"].dtype)
    return rows


def plan_clips(
    index: pd.DataFrame, regions: pd.DataFrame, cfg: ClipCuttingConfig, fps: float
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
