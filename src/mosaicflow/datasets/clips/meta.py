"""Clip metadata: one versioned JSON per clip, and one manifest per video listing every candidate.

A clip record (``meta/<video>-<clip:06d>.json`` for written clips; every record, written or not,
in the video's manifest) holds: the source video id, track and scene, ``status`` (``kept``,
``filtered`` or ``skipped``) and ``reason``, the frame range with per-frame frame number, pts,
time, detection flag, region box, the tracker's id of the region (``source_track``: tracklets
the tracker split are joined into one track, see :func:`~.scenes.link_tracks`), crop box and
padding, fps, the source / crop / output shapes and scale, the region's median size, the
block-size estimates of :mod:`mosaicflow.mosaic.blocksize`, the analyser results, the mask
growth, the relative file paths, the seed and the config and code hashes. Readers validate it
(:func:`validate_meta`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaicflow.io import read_json

#: Version of the clip metadata layout.
CLIP_META_VERSION = 2
#: Version of the per-video manifest layout.
MANIFEST_VERSION = 1
STATUSES = ("kept", "filtered", "skipped")
REQUIRED_KEYS = frozenset(
    {
        "version",
        "clip",
        "clip_no",
        "video",
        "track",
        "scene",
        "status",
        "reason",
        "frame_start",
        "frame_end",
        "n_frames",
        "fps",
        "source_shape",
        "crop_shape",
        "out_shape",
        "content_shape",
        "scale",
        "per_frame",
        "region",
        "block_sizes",
        "analysers",
        "mask_growth_px",
        "files",
        "seed",
        "config_hash",
        "code_hash",
    }
)
FRAME_KEYS = frozenset(
    {"frame", "pts", "time", "detected", "region_box", "source_track", "crop_box", "pad"}
)


class ClipMetaError(ValueError):
    """Invalid clip metadata; the message names the file."""


def validate_meta(data: Any, where: str | Path) -> dict[str, Any]:
    """Check a clip record; return it.

    Args:
        data: the parsed JSON.
        where: the file (or manifest entry) for messages.

    Raises:
        ClipMetaError: wrong version, missing keys, inconsistent frame entries or files.
    """
    if not isinstance(data, dict) or data.get("version") != CLIP_META_VERSION:
        got = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise ClipMetaError(f"{where}: clip metadata version {got!r}, expected {CLIP_META_VERSION}")
    missing = REQUIRED_KEYS - set(data)
    if missing:
        raise ClipMetaError(f"{where}: clip metadata lacks keys {sorted(missing)}")
    if data["status"] not in STATUSES:
        raise ClipMetaError(f"{where}: status {data['status']!r} not in {STATUSES}")
    frames = data["per_frame"]
    if not isinstance(frames, list) or len(frames) != data["n_frames"]:
        raise ClipMetaError(f"{where}: {len(frames)} frame entries for n_frames={data['n_frames']}")
    for i, entry in enumerate(frames):
        if not isinstance(entry, Mapping) or FRAME_KEYS - set(entry):
            raise ClipMetaError(f"{where}: frame entry {i} lacks keys {sorted(FRAME_KEYS)}")
    if frames and (frames[0]["frame"], frames[-1]["frame"]) != (
        data["frame_start"],
        data["frame_end"],
    ):
        raise ClipMetaError(f"{where}: frame_start/frame_end do not match the frame entries")
    files = data["files"]
    if data["status"] == "kept" and not (
        isinstance(files, Mapping) and {"clip", "mask", "meta"} <= set(files)
    ):
        raise ClipMetaError(f"{where}: a kept clip needs files.clip, files.mask and files.meta")
    if data["status"] != "kept" and files:
        raise ClipMetaError(f"{where}: a {data['status']} clip has no files")
    return data


def read_clip_meta(path: str | Path) -> dict[str, Any]:
    """Read and validate one clip's metadata JSON."""
    return validate_meta(read_json(path), path)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and validate a per-video manifest ``{"version", "video", "clips": [records]}``."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ClipMetaError(f"{path}: not a clip manifest of version {MANIFEST_VERSION}")
    if not isinstance(data.get("clips"), list) or "video" not in data:
        raise ClipMetaError(f"{path}: manifest lacks 'video' or 'clips'")
    for i, record in enumerate(data["clips"]):
        validate_meta(record, f"{path} (clip entry {i})")
        if record["video"] != data["video"]:
            raise ClipMetaError(f"{path}: clip entry {i} belongs to video {record['video']}")
    return data
