"""``mosaicflow review frames-export``: the frames ticked on review pages as a labelme folder.

A page of ``mosaicflow review frames`` exports a selection file (``<video>-selection.json``:
the page's folder and the stems of the ticked frames). This module checks each selection
against its page (every stem must be one of the page's frames) and copies the ticked frames'
JPEGs and labelme pre-labels into one folder, ready to correct in labelme and add to
``source.labelme_train``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mosaicflow.curate.hard_frame_page import FRAMES_FILE, SELECTION_FORMAT, SELECTION_VERSION
from mosaicflow.io import atomic_dir, write_json
from mosaicflow.outputs import MARKER, claim_output_dir

#: The command named by the output folder's marker.
COMMAND = "review frames-export"


@dataclass(frozen=True)
class Selection:
    """One page's export."""

    path: Path
    video: str
    page: Path
    stems: tuple[str, ...]


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out_dir: Path
    frames: int
    shapes: int


def read_selection(path: Path, pages: Path | None = None) -> Selection:
    """Read and check one selection file against its page.

    Args:
        path: the file a page exported.
        pages: the output folder of ``review frames``, when the pages moved since the export
            (the page is then ``pages/<video>``).

    Raises:
        ValueError: naming the file when it is not a selection, ticks nothing, its page is
            gone, or it names a frame its page does not hold.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the selection ({err})") from err
    if not isinstance(doc, dict) or doc.get("format") != SELECTION_FORMAT:
        raise ValueError(f"{path}: not a selection exported by a `mosaicflow review frames` page")
    if doc.get("version") != SELECTION_VERSION:
        raise ValueError(
            f"{path}: selection version {doc.get('version')!r}; this mosaicflow reads "
            f"{SELECTION_VERSION}"
        )
    video, stems = doc.get("video"), doc.get("frames")
    if not isinstance(video, str) or not isinstance(stems, list):
        raise ValueError(f"{path}: 'video' (text) and 'frames' (list) are required")
    if not stems:
        raise ValueError(f"{path}: no frame ticked on the page of {video}")
    page = pages / video if pages is not None else Path(str(doc.get("page", "")))
    listing = page / FRAMES_FILE
    if not listing.is_file():
        raise ValueError(
            f"{path}: its page {page} is gone (no {FRAMES_FILE}); give the output folder of "
            "`mosaicflow review frames` with --pages"
        )
    offered = _read_json(listing)
    if not isinstance(offered, dict) or not isinstance(offered.get("frames"), list):
        raise ValueError(f"{listing}: not a page's list of frames")
    if offered.get("video") != video:
        raise ValueError(f"{path}: exported from the page of {video}, but {page} shows another")
    unknown = [s for s in stems if not isinstance(s, str) or s not in offered["frames"]]
    if unknown:
        raise ValueError(f"{path}: frame {unknown[0]!r} is not on the page {page}")
    return Selection(path, video, page, tuple(dict.fromkeys(stems)))


def _read_json(path: Path) -> object:
    """A JSON file's content; a ValueError naming the file when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read it ({err})") from err


def export_selections(
    selections: Sequence[Path], out_dir: Path, pages: Path | None = None
) -> ExportResult:
    """Copy the ticked frames of every selection into one labelme folder.

    Args:
        selections: files exported by review pages.
        out_dir: the labelme folder to write: new, empty or an earlier output of this command
            (then replaced), apart from the pages and the selection files.
        pages: see :func:`read_selection`.

    Raises:
        ValueError: see :func:`read_selection`; naming the folder when it may not be written;
            naming two selection files of the same video.
    """
    chosen = [read_selection(path, pages) for path in selections]
    seen: dict[str, Path] = {}
    for selection in chosen:
        if selection.video in seen:
            raise ValueError(
                f"{selection.path}: a second selection of {selection.video} "
                f"(first: {seen[selection.video]}); export the page once with every tick"
            )
        seen[selection.video] = selection.path
    inputs = [s.page for s in chosen] + [s.path for s in chosen]
    out_dir = claim_output_dir(out_dir, COMMAND, inputs)
    frames = shapes = 0
    with atomic_dir(out_dir) as tmp:
        for selection in chosen:
            for stem in selection.stems:
                for suffix in (".jpg", ".json"):
                    source = selection.page / f"{stem}{suffix}"
                    if not source.is_file():
                        raise ValueError(f"{selection.path}: {source} is missing from its page")
                    shutil.copyfile(source, tmp / source.name)
                doc = _read_json(selection.page / f"{stem}.json")
                if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
                    raise ValueError(f"{selection.page / stem}.json: not a labelme file")
                shapes += len(doc["shapes"])
                frames += 1
        write_json(tmp / MARKER, {"command": COMMAND})
    return ExportResult(Path(out_dir), frames, shapes)
