"""Contact sheet of a split: first, middle and last frame of a sample of clips, mask outlined.

One row per clip (evenly spread over the split's kept clips, in index order), three frames
per row with the region mask's outline drawn in green, the clip name above. Written as a PNG,
atomically; the same index and files give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mosaicflow.datasets.clips.media import read_video
from mosaicflow.io import atomic_path

TILE = 128
LABEL_H = 18
GAP = 4


def _outlined(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(frame.copy())
    contours, _ = cv2.findContours(
        (mask > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    cv2.drawContours(out, contours, -1, (0, 255, 0), 1)
    return cv2.resize(out, (TILE, TILE), interpolation=cv2.INTER_NEAREST)


def contact_sheet(
    index: pd.DataFrame, root: Path, split: str, out_png: Path, max_clips: int = 12
) -> Path:
    """Write the contact sheet of ``split``.

    Args:
        index: the clip index (``build_index``'s table).
        root: the dataset folder its paths are relative to.
        split: ``train``, ``val`` or ``test``.
        out_png: the PNG to write.
        max_clips: clips shown (``restoration_dataset.sheet_clips``).

    Returns:
        ``out_png``. A split without clips gives a small sheet that says so.
    """
    rows = index[(index["split"] == split) & index["kept"].astype(bool)]
    rows = rows.sort_values(["video", "clip_no"], kind="stable").reset_index(drop=True)
    if len(rows) > max_clips:
        picks = np.unique(np.round(np.linspace(0, len(rows) - 1, max_clips)).astype(int))
        rows = rows.iloc[picks].reset_index(drop=True)
    width = 3 * TILE + 4 * GAP
    tiles = []
    for row in rows.itertuples(index=False):
        n = int(row.frames)
        clip = read_video(Path(root) / row.clip_path)
        masks = read_video(Path(root) / row.mask_path, fmt="gray")
        band = np.full((LABEL_H + TILE + GAP, width, 3), 255, np.uint8)
        label = f"{row.clip}  track {row.track}  {n} fr  block {row.block_size:.0f}"
        cv2.putText(
            band, label, (GAP, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA
        )
        for k, t in enumerate((0, (n - 1) // 2, n - 1)):
            x = GAP + k * (TILE + GAP)
            band[LABEL_H : LABEL_H + TILE, x : x + TILE] = _outlined(clip[t], masks[t])
        tiles.append(band)
    if not tiles:
        empty = np.full((LABEL_H + GAP, width, 3), 255, np.uint8)
        cv2.putText(
            empty,
            f"{split}: no clips",
            (GAP, 13),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.38,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        tiles.append(empty)
    sheet = np.concatenate(tiles, axis=0)
    with atomic_path(out_png, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{out_png}: cannot write the contact sheet")
    return Path(out_png)
