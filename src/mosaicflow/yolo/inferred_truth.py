"""The truth of a user's test video: its regions on every frame, as the region segmenter sees
them, in the demo truth format (:mod:`mosaicflow.formats.truth`).

User videos have no ground truth, so the held-out evaluation takes the segmenter's regions as
the truth: mosaics are drawn over them (rule ``build_detection_testset``), and the detector and
the restorer are scored against them. The figures then say how well the detector finds and the
restorer undoes mosaics drawn over what the segmenter finds; the segmenter's own quality is
measured on labelled frames (its validation figures), not here.

Every frame is segmented and tracked (not only the frames the frame stage kept). A track keeps
one instance id in the mask video; ids are 1..255 (the mask is 8-bit), handed out in order of
first appearance, and once all are used an id is reused by a later track only after its
previous track has ended (the one freed longest ago first). A detection the tracker has not
(yet) confirmed gets an id of its own for its frame. Where masks overlap, the higher score wins.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Instance ids a truth mask video can hold (8-bit, 0 = background).
MAX_IDS = 255


@dataclass(frozen=True)
class InferredTruthResult:
    """Counts of one inferred test truth."""

    video: str
    frames: int
    frames_with_regions: int
    tracks: int
    ids_reused: int


def track_keys(table: pd.DataFrame) -> pd.Series:
    """Per row of a regions table the track it belongs to: its ``track_id``, or for a
    detection without one a key of its own (negative); NaN for the empty-frame rows."""
    found = table["instance"] >= 0
    untracked = found & (table["track_id"] < 0)
    keys = table["track_id"].astype("float64").where(found)
    keys[untracked] = -1.0 - np.arange(int(untracked.sum()), dtype="float64")
    return keys


def truth_ids(table: pd.DataFrame, max_ids: int = MAX_IDS) -> tuple[pd.Series, int]:
    """The instance id (1..``max_ids``) of every row of a regions table in the truth masks,
    0 for the empty-frame rows (see the module docstring).

    Returns:
        The ids (aligned with ``table``) and how many tracks got a reused id.

    Raises:
        ValueError: more than ``max_ids`` tracks visible at once, naming the frame.
    """
    keys = track_keys(table)
    found = keys.notna()
    rows = pd.DataFrame(
        {"key": keys[found], "frame": table.loc[found, "frame"], "row": np.flatnonzero(found)}
    )
    spans = rows.groupby("key").agg(
        first=("frame", "min"), last=("frame", "max"), row=("row", "min")
    )
    spans = spans.sort_values(["first", "row"])[["first", "last"]]  # order of appearance
    active: list[tuple[int, int]] = []  # (last frame, id) of the tracks still visible
    freed: deque[int] = deque()
    next_fresh, reused = 1, 0
    id_of: dict[float, int] = {}
    for key, first, last in spans.itertuples():
        while active and active[0][0] < first:
            freed.append(heapq.heappop(active)[1])
        if next_fresh <= max_ids:
            ident, next_fresh = next_fresh, next_fresh + 1
        elif freed:
            ident, reused = freed.popleft(), reused + 1
        else:
            raise ValueError(
                f"frame {int(first)}: more than {max_ids} regions visible at once; the truth "
                f"mask video holds at most {max_ids} (raise regions.conf)"
            )
        id_of[key] = ident
        heapq.heappush(active, (int(last), ident))
    ids = keys.map(id_of).fillna(0).astype("int64")
    return ids, reused


def truth_masks(
    table: pd.DataFrame, ids: pd.Series, frames: int, height: int, width: int
) -> Iterator[tuple[np.ndarray, list[int]]]:
    """Per frame, in order, the instance-id mask (uint8) and the ids visible in it, painted
    from the table's RLE masks in increasing score (the higher score wins an overlap). One
    frame's mask is held at a time."""
    from mosaicflow.yolo.infer import decode_rle

    rows = table.assign(truth_id=ids)
    rows = rows[rows["truth_id"] > 0].sort_values(["frame", "score"], kind="stable")
    by_frame = dict(tuple(rows.groupby("frame", sort=True)))
    for frame in range(frames):
        mask = np.zeros((height, width), np.uint8)
        for row in by_frame[frame].itertuples() if frame in by_frame else ():
            mask[decode_rle(row.rle, height, width)] = int(row.truth_id)
        yield mask, [int(i) for i in np.unique(mask) if i]


def infer_test_truth(
    model_path: Path,
    video: Path,
    out_truth: Path,
    out_json: Path,
    *,
    cfg: Any,
    device: str,
    threads: int,
    video_id: str,
    name: str,
    config_dir: Path,
) -> InferredTruthResult:
    """Rule ``infer_test_truth``: segment and track every frame of a user's test video and
    write its truth (mask video and truth JSON).

    Args:
        model_path: the region segmenter's weights.
        video: the video.
        out_truth: the truth mask video (.mkv).
        out_json: the truth JSON.
        cfg: the ``regions`` keys inference reads
            (:class:`~mosaicflow.yolo.config.RegionsInferConfig`).
        device: the config's device (``auto|cpu|cuda:N``).
        threads: CPU threads.
        video_id: the video's id.
        name: the video's path in its sheet or folder (recorded).
        config_dir: ultralytics' config folder of this job (under ``results/``).

    Returns:
        Counts of the truth.

    Raises:
        ValueError: naming the video when it has an odd width or height, frames are missing or
            too many regions are visible at once.
    """
    from mosaicflow.formats.truth import (
        MASK_ENCODING,
        TRUTH_VERSION,
        truth_mask_writer,
        write_truth_json,
    )
    from mosaicflow.video.decode import frame_rate, probe_video
    from mosaicflow.yolo.infer import track_video

    probe = probe_video(video)
    if probe.width % 2 or probe.height % 2:
        raise ValueError(
            f"{video}: {probe.width}x{probe.height}; a held-out video needs an even width and "
            "height (its mosaicked copy and restored video are H.264 4:2:0): crop or scale it "
            "by a pixel, or give it another role than val/test"
        )
    fps = probe.fps
    table, height, width = track_video(
        model_path, video, None, lambda frame: frame / fps,
        cfg=cfg, device=device, threads=threads, config_dir=config_dir,
    )  # fmt: skip
    frames = int(table["frame"].max()) + 1 if len(table) else 0
    if frames == 0 or table["frame"].nunique() != frames:
        raise ValueError(f"{video}: {table['frame'].nunique()} frames segmented of {frames}")
    try:
        ids, reused = truth_ids(table)
    except ValueError as error:
        raise ValueError(f"{video}: {error}") from None
    visible: list[list[int]] = []
    with truth_mask_writer(out_truth, frame_rate(fps), width, height) as write:
        for mask, ids_in_frame in truth_masks(table, ids, frames, height, width):
            write(mask)
            visible.append(ids_in_frame)
    per_frame = [
        {"frame": i, "instances": ids_i, "scene": 0, "watermarks": []}
        for i, ids_i in enumerate(visible)
    ]
    write_truth_json(
        out_json,
        {
            "version": TRUTH_VERSION,
            "name": video_id,
            "source": {"path": name, "truth": "inferred by the region segmenter"},
            "fps": round(fps, 6),
            "width": width,
            "height": height,
            "frames": frames,
            "classes": [],
            "mask_encoding": MASK_ENCODING,
            "per_frame": per_frame,
        },
    )
    result = InferredTruthResult(
        video=video_id,
        frames=frames,
        frames_with_regions=sum(1 for v in visible if v),
        tracks=int(track_keys(table).nunique()),
        ids_reused=reused,
    )
    log.info("%s", asdict(result))
    return result
