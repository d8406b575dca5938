"""Duplicate videos across sources: perceptual-hash signatures of the kept frames, the pairs of
videos that share frames, their groups, and the member each group keeps.

A video's signature holds one 64-bit ``imagehash.phash`` per kept frame (robust to re-encoding,
rescaling, a few percent of crop and a small overlay). Flat frames (black, fades, a single
colour) hash alike in every video, so they are marked uninformative and never matched. Two
frames match when their hashes differ in at most ``max_distance`` bits; the search compares every
informative frame with every other video's, in blocks, with numpy (quadratic in the number of
frames: a few seconds for 10^4 frames, hours for 10^6).

Two videos are a pair when at least ``min_overlap`` of one's informative frames match frames of
the other (a re-upload shifted in time, a compilation that holds one of them). Pairs join into
groups (connected components): every group stays in one split. Inside a group, a video whose
frames are found at ``drop_overlap`` or more in a *better* member (more pixels, then sharper,
then longer, then its id) is dropped as a duplicate of it; the others are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mosaicflow.curate.config import DuplicatesConfig

SIGNATURE_COLUMNS = ("video", "frame", "phash", "informative", "sharpness", "width", "height")
PAIR_COLUMNS = ("video_a", "video_b", "frames_a", "frames_b", "overlap_a", "overlap_b")
GROUP_COLUMNS = ("video", "group", "kept", "duplicate_of", "overlap", "reason")


def frame_signature(rgb: np.ndarray, min_std: float) -> tuple[int, bool, float]:
    """``(phash as a signed 64-bit int, informative, sharpness)`` of one RGB frame.

    ``informative``: the grey frame's standard deviation is at least ``min_std`` (0-255 scale).
    ``sharpness``: variance of the Laplacian of the grey frame.
    """
    import imagehash
    from PIL import Image

    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    bits = imagehash.phash(Image.fromarray(gray)).hash.flatten()
    value = int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])
    signed = value - (1 << 64) if value >= 1 << 63 else value
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return signed, bool(gray.std() >= min_std), sharpness


def video_signature(video: Path, frames_dir: Path, video_id: str, min_std: float) -> pd.DataFrame:
    """The signature of ``video``'s kept frames (``frames_dir``: rule extract_frames' folder
    with ``index.parquet`` and ``probe.json``).

    Raises:
        VideoDecodeError: the video no longer decodes to the frames its index lists.
    """
    from mosaicflow.datasets.clips.media import source_frames
    from mosaicflow.io import read_json

    index = pd.read_parquet(Path(frames_dir) / "index.parquet", columns=["frame", "pts", "kept"])
    kept = index[index["kept"].astype(bool)]
    wanted = {int(f): int(p) for f, p in zip(kept["frame"], kept["pts"], strict=True)}
    rotation = int(read_json(Path(frames_dir) / "probe.json").get("rotation", 0))
    rows: list[dict[str, Any]] = []
    for number, rgb in source_frames(video, wanted, rotation):
        phash, informative, sharpness = frame_signature(rgb, min_std)
        h, w = rgb.shape[:2]
        rows.append(
            {"video": video_id, "frame": number, "phash": phash, "informative": informative,
             "sharpness": sharpness, "width": w, "height": h}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(SIGNATURE_COLUMNS)).astype(
        {"frame": "int64", "phash": "int64", "informative": "bool", "width": "int64",
         "height": "int64", "sharpness": "float64"}
    )  # fmt: skip


def matched_counts(
    hashes: np.ndarray, owners: np.ndarray, n_videos: int, max_distance: int, block: int = 2048
) -> np.ndarray:
    """``counts[v, w]``: how many frames of video ``v`` match at least one frame of video ``w``.

    Args:
        hashes: (N,) uint64 frame hashes.
        owners: (N,) video number of each frame, in ``0 .. n_videos-1``.
        n_videos: number of videos.
        max_distance: the largest Hamming distance (bits) of a match.
        block: rows compared at once (memory ``block x N`` bytes).
    """
    counts = np.zeros((n_videos, n_videos), dtype=np.int64)
    for start in range(0, len(hashes), block):
        rows = slice(start, start + block)
        distance = np.bitwise_count(hashes[rows, None] ^ hashes[None, :])
        close = distance <= max_distance
        # per row: which videos hold a matching frame (own video excluded)
        hit = np.zeros((close.shape[0], n_videos), dtype=bool)
        r, c = np.nonzero(close)
        hit[r, owners[c]] = True
        hit[np.arange(close.shape[0]), owners[rows]] = False
        np.add.at(counts, owners[rows], hit.astype(np.int64))
    return counts


def find_pairs(signatures: pd.DataFrame, max_distance: int, min_overlap: float) -> pd.DataFrame:
    """The video pairs sharing at least ``min_overlap`` of one video's informative frames.

    Returns:
        ``PAIR_COLUMNS``: ``frames_a`` frames of ``video_a`` match a frame of ``video_b``
        (``overlap_a`` = that over ``video_a``'s informative frames), and the reverse.
    """
    informative = signatures[signatures["informative"].astype(bool)]
    videos = sorted(signatures["video"].unique())
    number = {video: k for k, video in enumerate(videos)}
    hashes = informative["phash"].to_numpy(dtype=np.int64).view(np.uint64)
    owners = informative["video"].map(number).to_numpy(dtype=np.int64)
    counts = matched_counts(hashes, owners, len(videos), max_distance)
    sizes = np.bincount(owners, minlength=len(videos))
    rows = []
    for a in range(len(videos)):
        for b in range(a + 1, len(videos)):
            share_a = counts[a, b] / sizes[a] if sizes[a] else 0.0
            share_b = counts[b, a] / sizes[b] if sizes[b] else 0.0
            if max(share_a, share_b) >= min_overlap:
                rows.append((videos[a], videos[b], int(counts[a, b]), int(counts[b, a]),
                             round(float(share_a), 4), round(float(share_b), 4)))  # fmt: skip
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def video_merit(signatures: pd.DataFrame) -> pd.DataFrame:
    """Per video, what makes a member better: pixels, median sharpness, informative frames."""
    grouped = signatures.groupby("video")
    return pd.DataFrame(
        {
            "pixels": grouped["width"].max() * grouped["height"].max(),
            "sharpness": grouped["sharpness"].median(),
            "frames": grouped["informative"].sum(),
        }
    )


def group_videos(
    videos: Sequence[str], pairs: pd.DataFrame, merit: pd.DataFrame, drop_overlap: float
) -> pd.DataFrame:
    """Groups of ``videos`` joined by ``pairs``, and which members are dropped.

    A group is named after its best member. A member is dropped when ``drop_overlap`` or more of
    its informative frames match a better member of its group (reason ``duplicate``).

    Returns:
        ``GROUP_COLUMNS``, one row per video, sorted by video.
    """
    parent = {video: video for video in videos}

    def root(video: str) -> str:
        while parent[video] != video:
            parent[video] = parent[parent[video]]
            video = parent[video]
        return video

    for a, b in zip(pairs["video_a"], pairs["video_b"], strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    def rank(video: str) -> tuple:
        row = merit.loc[video] if video in merit.index else None
        values = (0, 0.0, 0) if row is None else (row["pixels"], row["sharpness"], row["frames"])
        return (-values[0], -values[1], -values[2], video)

    members: dict[str, list[str]] = {}
    for video in videos:
        members.setdefault(root(video), []).append(video)
    share: dict[tuple[str, str], float] = {}
    for row in pairs.itertuples(index=False):
        share[(row.video_a, row.video_b)] = row.overlap_a
        share[(row.video_b, row.video_a)] = row.overlap_b
    out = []
    for group in members.values():
        ordered = sorted(group, key=rank)
        kept: list[str] = []
        for video in ordered:
            better = [(share.get((video, k), 0.0), k) for k in kept]
            overlap, best = max(better, default=(0.0, ""))
            if overlap >= drop_overlap:
                out.append((video, ordered[0], False, best, overlap, "duplicate"))
            else:
                kept.append(video)
                out.append((video, ordered[0], True, "", overlap, ""))
    return pd.DataFrame(out, columns=list(GROUP_COLUMNS)).sort_values("video", ignore_index=True)


def find_duplicates(
    signature_files: Iterable[Path], cfg: DuplicatesConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(pairs, groups)`` of the videos whose signatures are given (rule find_duplicates)."""
    tables = [pd.read_parquet(path) for path in signature_files]
    signatures = (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(columns=list(SIGNATURE_COLUMNS))
    )
    videos = sorted(signatures["video"].unique())
    pairs = find_pairs(signatures, cfg.max_distance, cfg.min_overlap)
    groups = group_videos(videos, pairs, video_merit(signatures), cfg.drop_overlap)
    return pairs, groups


def read_groups(path: Path | None) -> tuple[dict[str, str], dict[str, str]]:
    """``(video -> group, dropped video -> the member it duplicates)`` of a
    ``duplicates.parquet`` (:func:`group_videos`' table); empty without one."""
    if path is None:
        return {}, {}
    table = pd.read_parquet(path)
    missing = sorted(set(GROUP_COLUMNS) - set(table.columns))
    if missing:
        raise ValueError(f"{path}: not a duplicate-groups table (missing columns {missing})")
    groups = dict(zip(table["video"], table["group"], strict=True))
    dropped = table[~table["kept"].astype(bool)]
    return groups, dict(zip(dropped["video"], dropped["duplicate_of"], strict=True))
