"""The aggregate job: split by source video and one ``index.parquet`` row per candidate clip.

Every candidate of every video is listed, kept or not (``status``/``reason`` say why not), so
the index is the one table that answers "what happened to this scene". Splits are assigned per
source video (no video in two splits): given roles win, the other videos are split by the
configured fractions of clips (:func:`mosaicflow.formats.splits.split_by_group`, seeded).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow.datasets.clips.config import SplitConfig
from mosaicflow.datasets.clips.meta import read_manifest
from mosaicflow.datasets.tags import tag_fields
from mosaicflow.formats.splits import follow_pinned_groups, split_by_group
from mosaicflow.io import write_parquet
from mosaicflow.provenance import file_hash

LOG = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
#: ``reason`` of a clip a reviewer dropped.
REVIEW_REASON = "review"
#: The reason of clips from a video dropped as a duplicate of another (rule find_duplicates).
DUPLICATE_REASON = "duplicate"

#: Columns of ``index.parquet`` and their dtypes (floats are NaN where not measured).
INDEX_COLUMNS: dict[str, str] = {
    "clip": "string",
    "video": "string",
    "split": "string",
    "clip_no": "int64",
    "track": "int64",
    "scene": "int64",
    "status": "string",
    "kept": "bool",
    "reason": "string",
    "frame_start": "int64",
    "frame_end": "int64",
    "frames": "int64",
    "fps": "float64",
    "start_time": "float64",
    "source_h": "int64",
    "source_w": "int64",
    "crop_h": "float64",
    "crop_w": "float64",
    "out_size": "float64",
    "scale": "float64",
    "box_w": "float64",
    "box_h": "float64",
    "region_px": "float64",
    "region_fraction": "float64",
    "block_size": "float64",
    "block_area": "float64",
    "block_area_sigmoid": "float64",
    "block_coverage": "float64",
    "block_long_side": "float64",
    "watermark": "float64",
    "sharpness": "float64",
    "quality": "float64",
    "blockiness": "float64",
    "block_period": "float64",
    "source_quality": "float64",
    "source_quality_resize": "float64",
    "tags": "string",
    "tag": "string",
    "mask_growth_px": "int64",
    "clip_path": "string",
    "mask_path": "string",
    "meta_path": "string",
}


def assign_splits(
    clips_per_video: Mapping[str, int],
    split: SplitConfig,
    *,
    seed: int,
    roles: Mapping[str, str] | None = None,
    groups: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Split name of every video.

    Args:
        clips_per_video: video id -> number of clips (the fractions are of clips).
        split: the fractions.
        seed: seed of the split's tie-breaking order.
        roles: video id -> ``train``/``val``/``test`` for videos whose split is given.
        groups: video id -> duplicate group (rule find_duplicates): a group's videos share one
            split: that of its members with a role (the most held out), else the one drawn.

    Returns:
        video id -> split name.

    Raises:
        ValueError: a role that is not a split name.
    """
    roles = dict(roles or {})
    bad = {v: r for v, r in roles.items() if r not in SPLITS}
    if bad:
        raise ValueError(f"video roles must be one of {SPLITS}: {bad}")
    group_of = dict(groups or {})
    out, rest = follow_pinned_groups(
        {v: roles[v] for v in clips_per_video if v in roles},
        sorted(v for v in clips_per_video if v not in roles),
        group_of,
    )
    if rest:
        fractions = {"train": 1.0 - split.val - split.test, "val": split.val, "test": split.test}
        items = [v for v in rest for _ in range(max(1, clips_per_video[v]))]
        shared = split_by_group(items, lambda v: group_of.get(v, v), fractions=fractions, seed=seed)
        for name, members in shared.items():
            out.update({v: name for v in members})
    return out


def _row(record: Mapping[str, Any], split: str) -> dict[str, Any]:
    sizes = record["block_sizes"] or {}
    region = record["region"] or {}
    found = record["analysers"] or {}
    files = record["files"] or {}
    crop = record["crop_shape"] or [np.nan, np.nan]

    def num(value: Any) -> float:
        return np.nan if value is None else float(value)

    return {
        "clip": record["clip"],
        "video": record["video"],
        "split": split,
        "clip_no": record["clip_no"],
        "track": record["track"],
        "scene": record["scene"],
        "status": record["status"],
        "kept": record["status"] == "kept",
        "reason": record["reason"],
        "frame_start": record["frame_start"],
        "frame_end": record["frame_end"],
        "frames": record["n_frames"],
        "fps": record["fps"],
        "start_time": record["per_frame"][0]["time"] if record["per_frame"] else np.nan,
        "source_h": record["source_shape"][0],
        "source_w": record["source_shape"][1],
        "crop_h": num(crop[0]),
        "crop_w": num(crop[1]),
        "out_size": num((record["out_shape"] or [None])[0]),
        "scale": num(record["scale"]),
        "box_w": num(region.get("box_w")),
        "box_h": num(region.get("box_h")),
        "region_px": num(region.get("region_px")),
        "region_fraction": num(region.get("region_fraction")),
        "block_size": num(sizes.get("chosen")),
        "block_area": num(sizes.get("area")),
        "block_area_sigmoid": num(sizes.get("area_sigmoid")),
        "block_coverage": num(sizes.get("coverage")),
        "block_long_side": num(sizes.get("long_side")),
        "watermark": num(found.get("watermark")),
        "sharpness": num(found.get("sharpness")),
        "quality": num(found.get("quality")),
        "blockiness": num(found.get("blockiness")),
        "block_period": num(found.get("block")),
        "source_quality": num(found.get("source_quality")),
        "source_quality_resize": num(found.get("source_quality_resize")),
        **tag_fields(found.get("tags")),
        "mask_growth_px": record["mask_growth_px"],
        "clip_path": files.get("clip", ""),
        "mask_path": files.get("mask", ""),
        "meta_path": files.get("meta", ""),
    }


def index_frame(records: Iterable[Mapping[str, Any]], splits: Mapping[str, str]) -> pd.DataFrame:
    """The index table of clip records (sorted by video and clip number)."""
    rows = [_row(r, splits[r["video"]]) for r in records]
    frame = pd.DataFrame(rows, columns=list(INDEX_COLUMNS)).astype(INDEX_COLUMNS)
    return frame.sort_values(["video", "clip_no"], kind="stable").reset_index(drop=True)


def filter_clips(index: pd.DataFrame, hit: pd.Series, reason: str) -> pd.DataFrame:
    """A copy of the index with the clips ``hit`` marks filtered (not kept) for ``reason``."""
    out = index.copy()
    out.loc[hit, "status"] = "filtered"
    out.loc[hit, "kept"] = False
    out.loc[hit, "reason"] = reason
    return out


def drop_reviewed(
    index: pd.DataFrame, drops: Mapping[str, str], root: Path | None = None
) -> pd.DataFrame:
    """The index with the clips a reviewer dropped filtered for the reason ``review``.

    A verdict belongs to the clip file it was given for: it applies only while the clip
    exists, is kept, and (with ``root``, the dataset folder) its file still has the SHA-256
    the verdict names. Verdicts for clips that are gone or were rebuilt since are ignored with
    a warning (review the new clips again).

    Args:
        index: the clip index.
        drops: clip -> SHA-256 of the reviewed clip file.
        root: the dataset folder the index's paths are relative to (None: ids only).
    """
    if not drops:
        return index
    kept = index[index["kept"].astype(bool)]
    kept = kept.set_index(kept["clip"].astype(str))
    applied, stale = set(), []
    for clip, sha in sorted(drops.items()):
        if clip not in kept.index:
            stale.append(clip)
            continue
        path = Path(root) / kept.loc[clip, "clip_path"] if root is not None else None
        if path is not None and file_hash(path, 64) != sha:
            stale.append(clip)
            continue
        applied.add(clip)
    if stale:
        LOG.warning(
            "%d review verdicts are for clips that are gone or were rebuilt since, ignored: %s",
            len(stale), stale[:5],
        )  # fmt: skip
    return filter_clips(index, index["clip"].astype(str).isin(applied), REVIEW_REASON)


def drop_duplicates(index: pd.DataFrame, duplicates: Mapping[str, str]) -> pd.DataFrame:
    """The index with the kept clips of duplicate videos filtered for the reason ``duplicate``.

    Args:
        index: the clip index.
        duplicates: dropped video id -> the video it duplicates (rule find_duplicates).
    """
    if not duplicates:
        return index
    hit = index["video"].astype(str).isin(set(duplicates)) & index["kept"].astype(bool)
    return filter_clips(index, hit, DUPLICATE_REASON)


def build_index(
    manifests: Iterable[Path],
    out: Path,
    split_cfg: SplitConfig,
    *,
    seed: int,
    roles: Mapping[str, str] | None = None,
    review_drops: Mapping[str, str] | None = None,
    groups: Mapping[str, str] | None = None,
    duplicates: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Gather the per-video manifests into ``index.parquet`` with a split per video.

    Args:
        manifests: the per-video manifests (``videos/<video>.json``) of :func:`build_video_clips`.
        out: ``results/restoration_dataset/index.parquet`` (written atomically).
        split_cfg: ``restoration_dataset.split``.
        seed: the workflow seed.
        roles: video id -> split for videos whose split is given (e.g. the demo world's roles).
        review_drops: clip -> SHA-256 of the clip file a reviewer dropped (:func:`drop_reviewed`).
        groups: video id -> duplicate group (one split per group).
        duplicates: dropped video id -> the video it duplicates (:func:`drop_duplicates`).

    Returns:
        The index (columns :data:`INDEX_COLUMNS`).

    Raises:
        ClipMetaError: a manifest that is not valid (names it); ValueError: a video listed twice.
    """
    records: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for path in sorted(Path(p) for p in manifests):
        data = read_manifest(path)
        if data["video"] in counts:
            raise ValueError(f"{path}: video {data['video']} is listed by two manifests")
        counts[data["video"]] = sum(r["status"] == "kept" for r in data["clips"])
        if data["video"] in (duplicates or {}):
            counts[data["video"]] = 0
        records.extend(data["clips"])
    splits = assign_splits(counts, split_cfg, seed=seed, roles=roles, groups=groups)
    root = Path(out).parent
    frame = drop_duplicates(index_frame(records, splits), duplicates or {})
    frame = drop_reviewed(frame, review_drops or {}, root)
    write_parquet(out, frame)
    return frame


def read_index(path: str | Path) -> pd.DataFrame:
    """Read an ``index.parquet``, checking its columns (names the file)."""
    frame = pd.read_parquet(path)
    missing = [c for c in INDEX_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a restoration clip index (missing columns {missing})")
    return frame
