"""The per-frame detections of a restore run as a ``regions.parquet`` table.

Same columns and types as :mod:`mosaicflow.yolo.infer` (one row per instance, one row with
``instance = -1`` for a frame without detections; RLE masks at frame size), so the evaluation
computes the detector's recall from the run's own detections instead of detecting again.
``track_id`` is the restore pipeline's track.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosaicflow.inference.tracks import Instance
from mosaicflow.io import write_parquet
from mosaicflow.yolo.infer import encode_rle, rows_frame


class MaskRecorder:
    """Collects the rows of every frame (RLE strings only: small) and writes the table.

    Args:
        height, width: frame size.
    """

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.rows: list[dict[str, Any]] = []

    def add(self, frame: int, instances: list[Instance], time_s: float) -> None:
        """Record frame ``frame``'s instances (after tracking, so their track ids are set);
        ``time_s``: its presentation time in seconds (the ``time`` column)."""
        if not instances:
            self.rows.append(
                {
                    "frame": frame,
                    "time": time_s,
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
            return
        for i, inst in enumerate(instances):
            x0, y0, x1, y1 = inst.box
            self.rows.append(
                {
                    "frame": frame,
                    "time": time_s,
                    "instance": i,
                    "track_id": inst.track_id,
                    "class_id": 0,
                    "score": inst.score,
                    "x0": float(x0),
                    "y0": float(y0),
                    "x1": float(x1),
                    "y1": float(y1),
                    "area": inst.area,
                    "rle": encode_rle(inst.full_mask(self.height, self.width)),
                }
            )

    def write(self, path: str | Path) -> Path:
        """Write the table to ``path`` (atomically)."""
        write_parquet(path, rows_frame(self.rows))
        return Path(path)
