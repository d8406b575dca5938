"""Browser-playable previews of the restoration clips, for the FiftyOne App.

The clips are RGB H.264 (or FFV1), which browsers do not decode; a preview is the clip as
H.264 4:2:0 with its region's mask outlined in red. Previews are written once per clip and
kept while the clip file is unchanged (its size and modification time are in the name's key).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

OUTLINE_RGB = (255, 0, 0)


def outlined(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The frames with the border of each frame's mask (0/255) drawn in :data:`OUTLINE_RGB`."""
    import cv2

    out = frames.copy()
    kernel = np.ones((3, 3), np.uint8)
    for frame, mask in zip(out, masks, strict=True):
        inside = mask >= 128
        edge = inside & ~cv2.erode(inside.astype(np.uint8), kernel).astype(bool)
        frame[edge] = OUTLINE_RGB
    return out


def preview_name(clip: Path) -> str:
    """The preview's file name: the clip's stem and a key of its size and mtime."""
    stat = clip.stat()
    key = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return f"{clip.stem}-{key}.mp4"


def write_previews(dataset_dir: Path, out_dir: Path) -> pd.DataFrame:
    """Write (or reuse) the preview of every kept clip of a restoration dataset.

    Args:
        dataset_dir: ``results/restoration_dataset``.
        out_dir: the previews' folder (``results/inspect/previews``).

    Returns:
        ``clip`` -> ``preview`` (absolute path), one row per kept clip.
    """
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.datasets.clips.media import read_video, write_preview_video

    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    index = read_index(dataset_dir / "index.parquet")
    kept = index[index["kept"].astype(bool)]
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for row in kept.itertuples():
        clip = dataset_dir / row.clip_path
        preview = out_dir / preview_name(clip)
        if not preview.is_file():
            frames = read_video(clip)
            masks = read_video(dataset_dir / row.mask_path, fmt="gray")
            write_preview_video(preview, outlined(frames, masks), float(row.fps))
        rows.append({"clip": str(row.clip), "preview": str(preview.resolve())})
    log.info("%d clip previews in %s", len(rows), out_dir)
    return pd.DataFrame(rows, columns=["clip", "preview"])
