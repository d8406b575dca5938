"""The regions of sampled frames: from ``regions.parquet`` (inferred) or the demo truth.

Each region comes with its clip key ``(scene, track)``: the samples of one track in one scene
share their mosaic parameters. Inferred regions without a track id get a key of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mosaicflow.datasets.detection.synth import Region


def inferred_regions(
    regions_parquet: Path, frames: Sequence[int], scenes: Mapping[int, int], shape: Sequence[int]
) -> dict[int, list[Region]]:
    """Region masks of ``frames`` from a ``regions.parquet`` table.

    Args:
        regions_parquet: ``results/regions/{video}/regions.parquet``.
        frames: frame numbers.
        scenes: frame -> scene id.
        shape: ``(H, W)`` of the frames (the masks' size).

    Raises:
        ValueError: naming the file when a column lacks or an RLE does not fit the frame size.
    """
    from mosaicflow.yolo.infer import decode_rle

    table = pd.read_parquet(regions_parquet)
    missing = {"frame", "instance", "track_id", "rle"} - set(table.columns)
    if missing:
        raise ValueError(f"{regions_parquet}: not a regions table (lacks {sorted(missing)})")
    wanted = set(int(f) for f in frames)
    rows = table[table["frame"].isin(wanted) & (table["instance"] >= 0) & table["rle"].notna()]
    out: dict[int, list[Region]] = {int(f): [] for f in frames}
    height, width = int(shape[0]), int(shape[1])
    for row in rows.sort_values(["frame", "instance"]).itertuples(index=False):
        frame, track = int(row.frame), int(row.track_id)
        try:
            mask = decode_rle(str(row.rle), height, width)
        except Exception as err:  # pycocotools raises plain errors on a bad string
            raise ValueError(f"{regions_parquet}: frame {frame}: bad RLE ({err})") from err
        if not mask.any():
            continue
        scene = int(scenes.get(frame, 0))
        key = (scene, track) if track >= 0 else (scene, -1, frame, int(row.instance))
        out[frame].append((key, mask))
    return out


def truth_regions(
    truth_mkv: Path, frames: Sequence[int], scenes: Mapping[int, int]
) -> dict[int, list[Region]]:
    """Region masks of ``frames`` from the demo world's truth mask video (instance ids)."""
    from mosaicflow.formats.truth import read_truth

    out: dict[int, list[Region]] = {int(f): [] for f in frames}
    if not out:
        return out
    for frame, ids in read_truth(truth_mkv, frames):
        scene = int(scenes.get(frame, 0))
        out[int(frame)] = [((scene, int(i)), ids == i) for i in np.unique(ids[ids > 0]).tolist()]
    return out
