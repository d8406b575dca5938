"""Duplicate videos across sources: the pairs of videos that share frames, their groups, and
the member each group keeps.

A video's signature is the 64-bit ``imagehash.phash`` of each kept frame, computed by the frames
stage while it decodes (:mod:`mosaicflow.video.signature`; robust to re-encoding, rescaling, a
few percent of crop and a small overlay). Flat frames (black, fades, a single colour) hash alike
in every video, so they are uninformative and never matched. Two frames match when their hashes
differ in at most ``max_distance`` bits; the search compares every informative frame with every
other video's, exhaustively: with numpy in blocks (about 4 ns per pair of frames on one core,
under a second for 10^4 frames, about an hour for 10^6), or with faiss's binary index where
faiss is installed (``duplicates.search``; the same matches, several times faster).

Two videos are a pair when at least ``min_overlap`` of one's informative frames match frames of
the other (a re-upload shifted in time, a compilation that holds one of them). Pairs join into
groups (connected components): every group stays in one split. Inside a group, a video whose
frames are found at ``drop_overlap`` or more in a *better* member (more pixels, then more bits
per pixel, then more informative frames, then its id) is dropped as a duplicate of it; the
others are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mosaicflow.curate.config import DuplicatesConfig
from mosaicflow.io import read_json

SIGNATURE_COLUMNS = ("video", "frame", "phash", "informative")
MERIT_COLUMNS = ("pixels", "bits_per_pixel", "frames")
PAIR_COLUMNS = ("video_a", "video_b", "frames_a", "frames_b", "overlap_a", "overlap_b")
GROUP_COLUMNS = ("video", "group", "kept", "duplicate_of", "overlap", "reason")


def video_signature(frames_dir: Path, video_id: str, min_std: float) -> pd.DataFrame:
    """The signature of one video's kept frames, from rule extract_frames' ``index.parquet``
    (``phash``, ``luma_std``): ``SIGNATURE_COLUMNS``; a frame is informative when its luma's
    standard deviation is at least ``min_std``."""
    index = pd.read_parquet(Path(frames_dir) / "index.parquet")
    missing = sorted({"frame", "kept", "phash", "luma_std"} - set(index.columns))
    if missing:
        raise ValueError(
            f"{frames_dir}/index.parquet: no frame signatures (missing columns {missing}); "
            "rerun rule extract_frames"
        )
    kept = index[index["kept"].astype(bool) & index["phash"].notna()]
    return pd.DataFrame(
        {
            "video": video_id,
            "frame": kept["frame"].astype("int64").to_numpy(),
            "phash": kept["phash"].astype("int64").to_numpy(),
            "informative": (kept["luma_std"].to_numpy(dtype=np.float64) >= min_std),
        },
        columns=list(SIGNATURE_COLUMNS),
    )


def video_merit(frames_dir: Path, signature: pd.DataFrame) -> dict[str, float]:
    """What makes a group member better, in order: pixels per frame, bits per pixel of the
    file (less compressed), informative frames (``MERIT_COLUMNS``, from ``probe.json``)."""
    probe = read_json(Path(frames_dir) / "probe.json")
    if probe.get("rejected"):
        return dict.fromkeys(MERIT_COLUMNS, 0.0)
    pixels = float(probe.get("display_width") or probe["width"]) * float(
        probe.get("display_height") or probe["height"]
    )
    decoded = max(1, int(probe.get("decoded_frames") or 1))
    return {
        "pixels": pixels,
        "bits_per_pixel": 8.0 * float(probe.get("bytes", 0)) / (pixels * decoded),
        "frames": float(signature["informative"].sum()),
    }


#: Bytes of the largest temporary array of the search (a block of rows against every frame).
SEARCH_MEMORY = 128 * 2**20
#: Frames one faiss range search queries at once (its threads share them out).
FAISS_QUERIES = 8192
#: Search backends of ``duplicates.search`` (``auto``: faiss when it is installed, else numpy).
SEARCH_BACKENDS = ("auto", "numpy", "faiss")


def faiss_available() -> bool:
    """Whether faiss (the ``faiss-cpu`` package) can be imported."""
    import importlib.util

    return importlib.util.find_spec("faiss") is not None


def search_backend(name: str) -> str:
    """The backend ``duplicates.search`` names, ``auto`` resolved.

    Raises:
        ValueError: an unknown name, or ``faiss`` when faiss is not installed.
    """
    if name not in SEARCH_BACKENDS:
        raise ValueError(f"duplicates.search: {name!r} is not one of {SEARCH_BACKENDS}")
    if name == "auto":
        return "faiss" if faiss_available() else "numpy"
    if name == "faiss" and not faiss_available():
        raise ValueError(
            "duplicates.search: faiss is not installed (pip install faiss-cpu); "
            "use 'numpy' or 'auto'"
        )
    return name


def _numpy_matches(hashes: np.ndarray, start: int, stop: int, max_distance: int):
    """(query rows, matching frames) of rows ``start:stop`` against every frame, with numpy."""
    distance = np.bitwise_count(hashes[start:stop, None] ^ hashes[None, :])
    rows, frames = np.nonzero(distance <= max_distance)
    return rows + start, frames


def _faiss_searcher(hashes: np.ndarray, threads: int):
    """A function like :func:`_numpy_matches` over a faiss binary index of ``hashes``."""
    import faiss

    if threads > 0:
        faiss.omp_set_num_threads(threads)
    codes = np.ascontiguousarray(hashes.astype("<u8")).view(np.uint8).reshape(-1, 8)
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)

    def matches(_: np.ndarray, start: int, stop: int, max_distance: int):
        # range_search keeps distances strictly below its radius
        limits, _, frames = index.range_search(codes[start:stop], max_distance + 1)
        rows = np.repeat(np.arange(start, stop), np.diff(limits).astype(np.int64))
        return rows, frames.astype(np.int64)

    return matches


def matched_counts(
    hashes: np.ndarray,
    owners: np.ndarray,
    max_distance: int,
    block: int | None = None,
    backend: str = "numpy",
    threads: int = 1,
) -> pd.DataFrame:
    """How many frames of video ``v`` match at least one frame of video ``w``, for every pair
    of videos with a match (a sparse table, so memory follows the matches, not videos²).

    Args:
        hashes: (N,) uint64 frame hashes.
        owners: (N,) video number of each frame.
        max_distance: the largest Hamming distance (bits) of a match.
        block: rows compared at once (None: with numpy as many as fit ``SEARCH_MEMORY`` as
            8-byte values, ``block x N x 8`` bytes; with faiss ``FAISS_QUERIES``, whose memory
            is that of their matches only).
        backend: ``numpy`` (blocks of XOR and popcount) or ``faiss`` (its exhaustive binary
            index, several times faster per core); both find exactly the same matches.
        threads: faiss's threads (0: its default).

    Returns:
        Columns ``v``, ``w``, ``count`` (``v != w``), sorted by ``v``, ``w``.
    """
    if block is None and backend == "faiss":
        block = FAISS_QUERIES
    elif block is None:
        block = max(1, SEARCH_MEMORY // (8 * max(len(hashes), 1)))
    matches = _numpy_matches if backend == "numpy" else _faiss_searcher(hashes, threads)
    owners = np.asarray(owners, dtype=np.int64)
    n = int(owners.max()) + 1 if len(owners) else 1
    keys = []
    for start in range(0, len(hashes), block):
        rows, frames = matches(hashes, start, min(start + block, len(hashes)), max_distance)
        other = owners[frames]
        keep = other != owners[rows]
        # one hit per (frame, other video): a frame counts once however many frames it matches
        keys.append(np.unique(rows[keep] * n + other[keep]))
    hits = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    pair, count = np.unique(owners[hits // n] * n + hits % n, return_counts=True)
    return pd.DataFrame({"v": pair // n, "w": pair % n, "count": count.astype(np.int64)})


def find_pairs(
    signatures: pd.DataFrame,
    max_distance: int,
    min_overlap: float,
    backend: str = "numpy",
    threads: int = 1,
) -> pd.DataFrame:
    """The video pairs sharing at least ``min_overlap`` of one video's informative frames
    (``backend`` and ``threads``: see :func:`matched_counts`).

    Returns:
        ``PAIR_COLUMNS``: ``frames_a`` frames of ``video_a`` match a frame of ``video_b``
        (``overlap_a`` = that over ``video_a``'s informative frames), and the reverse.
    """
    informative = signatures[signatures["informative"].astype(bool)]
    videos = sorted(signatures["video"].unique())
    number = {video: k for k, video in enumerate(videos)}
    hashes = informative["phash"].to_numpy(dtype=np.int64).view(np.uint64)
    owners = informative["video"].map(number).to_numpy(dtype=np.int64)
    table = matched_counts(hashes, owners, max_distance, backend=backend, threads=threads)
    counts = dict(zip(zip(table["v"], table["w"], strict=True), table["count"], strict=True))
    sizes = np.bincount(owners, minlength=len(videos))
    rows = []
    # only video pairs with a matched frame can be pairs (a before b, as in ``videos``)
    for a, b in sorted({(min(v, w), max(v, w)) for v, w in counts}):
        share_a = counts.get((a, b), 0) / sizes[a] if sizes[a] else 0.0
        share_b = counts.get((b, a), 0) / sizes[b] if sizes[b] else 0.0
        if max(share_a, share_b) >= min_overlap:
            rows.append((videos[a], videos[b], int(counts.get((a, b), 0)),
                         int(counts.get((b, a), 0)), round(float(share_a), 4),
                         round(float(share_b), 4)))  # fmt: skip
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def group_videos(
    videos: Sequence[str], pairs: pd.DataFrame, merit: pd.DataFrame, drop_overlap: float
) -> pd.DataFrame:
    """Groups of ``videos`` joined by ``pairs``, and which members are dropped.

    A group is named after its best member (``merit``: ``MERIT_COLUMNS`` per video, compared in
    that order, then by id). A member is dropped when ``drop_overlap`` or more of its
    informative frames match a better member of its group (reason ``duplicate``).

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
        values = [
            float(merit.loc[video, c]) if video in merit.index else 0.0 for c in MERIT_COLUMNS
        ]
        return (*(-v for v in values), video)

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
    frames_dirs: Mapping[str, Path], cfg: DuplicatesConfig, threads: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(pairs, groups)`` of the videos whose frame folders (rule extract_frames: index.parquet
    and probe.json) are given by video id (rule find_duplicates; ``threads``: the faiss
    search's)."""
    signatures, merit = [], {}
    for video, folder in sorted(frames_dirs.items()):
        signature = video_signature(Path(folder), video, cfg.min_std)
        signatures.append(signature)
        merit[video] = video_merit(Path(folder), signature)
    table = (
        pd.concat(signatures, ignore_index=True)
        if signatures
        else pd.DataFrame(columns=list(SIGNATURE_COLUMNS))
    )
    videos = sorted(frames_dirs)
    backend = search_backend(cfg.search)
    pairs = find_pairs(table, cfg.max_distance, cfg.min_overlap, backend, threads)
    merit_table = pd.DataFrame.from_dict(merit, orient="index", columns=list(MERIT_COLUMNS))
    groups = group_videos(videos, pairs, merit_table, cfg.drop_overlap)
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
