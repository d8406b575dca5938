"""The review export (rule export_review): the top-ranked clips for a human to keep or drop.

The folder ``results/review/export/`` holds

- ``tasks.json``: one Label Studio task per clip (``data.video`` a local-files URL of the
  clip's preview, ``data.clip``, ``data.clip_sha256``, the rank, score and reasons), importable
  into a project created with ``labeling_config.xml`` (a video and a single keep/drop choice);
- ``videos/<clip>.mp4``: browser-playable previews (H.264 4:2:0, the mask outlined in red);
- ``sheets/<clip>.jpg``: five frames of the clip with the mask outlined;
- ``review.html``: the contact sheets in rank order with the score and its reasons;
- ``export.json``: what was exported (clip ids and file hashes, the ranking method).

Verdicts come back with :mod:`.review_import`, which checks every clip id and hash against the
current dataset.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2
import numpy as np
import pandas as pd

from mosaicflow.io import atomic_dir, atomic_path
from mosaicflow.provenance import file_hash

#: The export's layout version (``export.json``).
EXPORT_VERSION = 1
#: Label Studio's control names in ``labeling_config.xml`` (the import reads them back).
CHOICE_NAME = "verdict"
VIDEO_NAME = "video"
#: Frames per contact sheet and their height in pixels.
SHEET_FRAMES = 5
SHEET_TILE = 128
#: Clips on the report's summary sheet (``top_clips.png``).
SUMMARY_CLIPS = 12

LABELING_CONFIG = f"""<View>
  <Header value="$clip (rank $rank, likely false $likely_false): $reasons"/>
  <Video name="{VIDEO_NAME}" value="$video"/>
  <Choices name="{CHOICE_NAME}" toName="{VIDEO_NAME}" choice="single" required="true">
    <Choice value="keep" hint="a true region: train on it"/>
    <Choice value="drop" hint="not a region to restore: leave it out of training"/>
  </Choices>
</View>
"""


def clip_sha256(path: Path) -> str:
    """SHA-256 of a clip file (full hex)."""
    return file_hash(path, 64)


def local_files_url(path: str) -> str:
    """Label Studio's URL of a file under its local-files document root."""
    return "/data/local-files/?d=" + quote(path)


def _sheet(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``SHEET_FRAMES`` evenly spaced frames side by side, the mask outlined (RGB)."""
    from mosaicflow.inspection.previews import outlined

    picks = np.unique(np.linspace(0, len(frames) - 1, SHEET_FRAMES).round().astype(int))
    tiles = []
    for frame in outlined(frames[picks], masks[picks]):
        scale = SHEET_TILE / frame.shape[0]
        size = (max(1, round(frame.shape[1] * scale)), SHEET_TILE)
        tiles.append(cv2.resize(frame, size, interpolation=cv2.INTER_NEAREST))
        tiles.append(np.full((SHEET_TILE, 4, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def summary_sheet(sheets: Sequence[np.ndarray], captions: Sequence[tuple[str, str]]) -> np.ndarray:
    """Clip sheets stacked under their two-line captions (white background, RGB)."""
    line_h, gap = 16, 4
    label_h = 2 * line_h + 2
    width = max((s.shape[1] for s in sheets), default=SHEET_TILE * SHEET_FRAMES)
    bands = []
    for sheet, lines in zip(sheets, captions, strict=True):
        band = np.full((label_h + sheet.shape[0] + gap, width, 3), 255, np.uint8)
        for k, text in enumerate(lines):
            cv2.putText(band, text, (2, 12 + k * line_h), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        band[label_h : label_h + sheet.shape[0], : sheet.shape[1]] = sheet
        bands.append(band)
    if not bands:
        empty = np.full((label_h + gap, width, 3), 255, np.uint8)
        cv2.putText(empty, "no clips to review", (2, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        bands.append(empty)
    return np.concatenate(bands, axis=0)


def _html(rows: Sequence[dict[str, Any]], title: str) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1em}figure{margin:0 0 1.2em}"
        "figcaption{font-size:90%;margin-bottom:.3em}img{image-rendering:pixelated}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
        "<p>Most likely false first. Outline: the region mask the clip was cut with. "
        "Verdicts go back through Label Studio (tasks.json) and "
        "<code>mosaicflow review import</code>.</p>",
    ]
    for row in rows:
        caption = (
            f"#{row['rank']} <b>{html.escape(row['clip'])}</b> likely false "
            f"{row['likely_false']:.3f}"
            + (f" ({html.escape(row['reasons'])})" if row["reasons"] else "")
            + (f" &mdash; verdict: {html.escape(row['verdict'])}" if row["verdict"] else "")
        )
        parts.append(
            f"<figure><figcaption>{caption}</figcaption>"
            f"<a href='{html.escape(row['video'])}'><img src='{html.escape(row['sheet'])}' "
            f"alt='{html.escape(row['clip'])}'></a></figure>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def export_review(
    ranked: pd.DataFrame,
    dataset_dir: Path,
    out_dir: Path,
    *,
    top_k: int,
    url_root: str,
    include_reviewed: bool = False,
    sheet: Path | None = None,
) -> list[dict[str, Any]]:
    """Write the review folder of the ``top_k`` highest-ranked clips.

    Args:
        ranked: ``ranked.parquet`` (:func:`~.clip_ranking.rank_clips`).
        dataset_dir: ``results/restoration_dataset`` (the clips).
        out_dir: ``results/review/export`` (replaced atomically).
        top_k: clips exported.
        url_root: the preview folder's path under Label Studio's local-files document root
            (``data.video`` is ``/data/local-files/?d=<url_root>/<clip>.mp4``).
        include_reviewed: export clips that already have a verdict too.
        sheet: where to write the first :data:`SUMMARY_CLIPS` clips' sheets as one PNG.

    Returns:
        The exported tasks' ``data`` entries.
    """
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.datasets.clips.media import read_video, write_preview_video
    from mosaicflow.inspection.previews import outlined

    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    index = read_index(dataset_dir / "index.parquet").set_index("clip")
    rows = ranked if include_reviewed else ranked[~ranked["reviewed"].astype(bool)]
    rows = rows.head(top_k)
    tasks: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    summary: list[np.ndarray] = []
    with atomic_dir(out_dir) as tmp:
        (tmp / "videos").mkdir()
        (tmp / "sheets").mkdir()
        for row in rows.itertuples(index=False):
            clip = str(row.clip)
            entry = index.loc[clip]
            clip_file = dataset_dir / entry["clip_path"]
            frames = read_video(clip_file)
            masks = read_video(dataset_dir / entry["mask_path"], fmt="gray")
            write_preview_video(tmp / "videos" / f"{clip}.mp4", outlined(frames, masks),
                                float(entry["fps"]))  # fmt: skip
            strip = _sheet(frames, masks)
            if len(summary) < SUMMARY_CLIPS:
                summary.append(strip)
            ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
            if not ok:
                raise OSError(f"{out_dir}: cannot encode the contact sheet of {clip}")
            (tmp / "sheets" / f"{clip}.jpg").write_bytes(encoded.tobytes())
            verdict = "" if pd.isna(row.verdict) else str(row.verdict)
            data = {
                VIDEO_NAME: local_files_url(f"{url_root.strip('/')}/{clip}.mp4"),
                "clip": clip,
                "clip_sha256": clip_sha256(clip_file),
                "rank": int(row.rank),
                "likely_false": round(float(row.likely_false), 4),
                "reasons": str(row.reasons),
            }
            tasks.append({"data": data})
            pages.append({**data, "verdict": verdict, "sheet": f"sheets/{clip}.jpg",
                          "video": f"videos/{clip}.mp4"})  # fmt: skip
        (tmp / "tasks.json").write_text(json.dumps(tasks, indent=1) + "\n")
        (tmp / "labeling_config.xml").write_text(LABELING_CONFIG)
        (tmp / "review.html").write_text(_html(pages, f"Clip review: top {len(pages)}"))
        manifest = {
            "version": EXPORT_VERSION,
            "method": str(ranked["method"].iloc[0]) if len(ranked) else "",
            "clips": {t["data"]["clip"]: t["data"]["clip_sha256"] for t in tasks},
        }
        (tmp / "export.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if sheet is not None:
        captions = [
            (f"#{p['rank']} {p['clip']}  likely false {p['likely_false']:.3f}", p["reasons"])
            for p in pages[: len(summary)]
        ]
        with atomic_path(sheet, suffix=".png") as tmp_png:
            image = cv2.cvtColor(summary_sheet(summary, captions), cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(str(tmp_png), image):
                raise OSError(f"{sheet}: cannot write the review sheet")
    return [t["data"] for t in tasks]
