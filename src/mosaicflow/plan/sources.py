"""Which videos the workflow runs on: the demo world's or the user's (folder or video sheet).

Pure path logic, imported by ``workflow/rules/common.smk`` and unit tested here.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaicflow.ids import VIDEO_EXTENSIONS, video_id
from mosaicflow.video.files import video_files

ROLES = ("train", "val", "test", "unlabelled")
WORLD_VIDEO_DIR = Path("results/world/videos")


@dataclass(frozen=True)
class SourceVideo:
    """One input video: its stable id, where it is, and its role."""

    id: str
    path: str
    role: str
    name: str


class SourceError(ValueError):
    """A problem with the configured source videos."""


#: Suffixes of files a sheet may not list as videos: images (the decoder reads one as a
#: one-frame video), labels, tables, subtitles, archives and model files.
NOT_VIDEO_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".json", ".txt", ".tsv",
     ".csv", ".yaml", ".yml", ".xml", ".srt", ".ass", ".vtt", ".zip", ".tar", ".gz", ".7z",
     ".rar", ".pt", ".pth", ".onnx", ".parquet", ".html", ".pdf"}
)  # fmt: skip

#: The folders the workflow writes in its working directory: never scanned for source videos
#: (a video folder that holds the working directory would take the run's own outputs in).
OUTPUT_FOLDERS = ("results", ".snakemake")


def scan_folder(
    root: str | os.PathLike[str], exclude: Sequence[str | os.PathLike[str]] = ()
) -> list[SourceVideo]:
    """Find video files below ``root`` (recursively, sorted, hidden entries skipped), but none
    inside the ``exclude`` folders."""
    root = Path(root)
    skipped = [Path(folder).resolve() for folder in exclude]
    found: list[SourceVideo] = []
    for path in video_files(root):
        if any(path.resolve().is_relative_to(folder) for folder in skipped):
            continue
        rel = path.relative_to(root)
        found.append(SourceVideo(video_id(rel), str(path), "unlabelled", rel.as_posix()))
    return found


def read_sheet(sheet: str | os.PathLike[str]) -> list[SourceVideo]:
    """Read a video sheet: a TSV with a ``path`` column and an optional ``role`` column.

    Relative paths are relative to the sheet's folder, which is also the root for the ids;
    they may not climb out of it (``..``).

    Raises:
        SourceError: naming the sheet and the line of a bad row (among them a file that is no
            video by its suffix: an image, a label or table file), or of two rows whose videos
            would get one id.
    """
    sheet = Path(sheet)
    if sheet.suffix.lower() in VIDEO_EXTENSIONS:
        raise SourceError(f"config key 'source.videos': {sheet} is a video; give the folder of "
                          "your videos or a video sheet (.tsv)")  # fmt: skip
    try:
        return _read_sheet(sheet)
    except UnicodeDecodeError as err:
        raise SourceError(f"{sheet}: not a text video sheet (tab-separated, UTF-8): {err}") from err


def _read_sheet(sheet: Path) -> list[SourceVideo]:
    root = sheet.parent
    videos: list[SourceVideo] = []
    first: dict[str, tuple[int, str]] = {}  # id -> the line and path that took it
    with open(sheet, newline="", encoding="utf-8-sig") as handle:  # a spreadsheet's BOM too
        reader = csv.DictReader(handle, delimiter="\t")
        if reader.fieldnames:  # a spreadsheet's header may keep spaces around its cells
            reader.fieldnames = [name.strip() for name in reader.fieldnames]
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise SourceError(f"{sheet}: a video sheet needs a 'path' column (tab-separated)")
        unknown = set(reader.fieldnames) - {"path", "role"}
        if unknown:
            raise SourceError(f"{sheet}: unknown columns {sorted(unknown)}; allowed: path, role")
        for line_no, row in enumerate(reader, start=2):
            raw = (row.get("path") or "").strip()
            if not raw:
                raise SourceError(f"{sheet}, line {line_no}: empty path")
            role = (row.get("role") or "unlabelled").strip() or "unlabelled"
            if role not in ROLES:
                raise SourceError(f"{sheet}, line {line_no}: role {role!r} is not one of {ROLES}")
            if ".." in Path(raw).parts:
                raise SourceError(
                    f"{sheet}, line {line_no}: path {raw!r} climbs out of the sheet's folder "
                    "('..'): give it relative to the sheet's folder, or absolute"
                )
            path = Path(raw) if Path(raw).is_absolute() else root / raw
            if path.suffix.lower() in NOT_VIDEO_SUFFIXES:
                raise SourceError(
                    f"{sheet}, line {line_no}: {raw!r} is not a video ({path.suffix} file); "
                    "a sheet lists video files"
                )
            if not path.is_file():
                raise SourceError(f"{sheet}, line {line_no}: video not found: {path}")
            rel = Path(raw) if not Path(raw).is_absolute() else Path(*Path(raw).parts[1:])
            video = SourceVideo(video_id(rel), str(path), role, rel.as_posix())
            if video.id in first:
                line, other = first[video.id]
                raise SourceError(
                    f"{sheet}, line {line_no}: {raw!r} gets the id {video.id} of line {line} "
                    f"({other}); list each video once"
                )
            first[video.id] = (line_no, str(path))
            videos.append(video)
    return videos


def world_videos(specs: Sequence[Any], reuploads: Sequence[Any] = ()) -> list[SourceVideo]:
    """Source videos of the demo world, from its video specs (``name`` and ``role``): every
    video but the ``label`` ones, which only feed the labelled sets; then the re-uploads
    (``world.reuploads``), without a role."""
    from mosaicflow.world.reuploads import REUPLOAD_ROLE
    from mosaicflow.world.specs import SOURCE_ROLES

    named = [(s.name, s.role) for s in specs if s.role in SOURCE_ROLES]
    named += [(r.name, REUPLOAD_ROLE) for r in reuploads]
    return [
        SourceVideo(video_id(f"{name}.mp4"), str(WORLD_VIDEO_DIR / f"{name}.mp4"), role, name)
        for name, role in named
    ]


def source_videos(
    source: Mapping[str, Any],
    world_specs: Sequence[Any] = (),
    reuploads: Sequence[Any] = (),
    exclude: Sequence[str | os.PathLike[str]] = OUTPUT_FOLDERS,
) -> list[SourceVideo]:
    """Resolve the ``source`` config section to the list of input videos (``world_specs`` and
    ``reuploads``: the demo world's videos and copies, when ``source.kind`` is ``demo``; a
    folder's scan skips the ``exclude`` folders, the workflow's outputs).

    Raises:
        SourceError: the user's videos, labelme folders or watermark set given with
            ``source.kind: demo``;
            no videos, duplicate ids, one file listed twice, or a bad sheet (the message names
            the file).
    """
    if source["kind"] == "demo":
        given = [
            key
            for key in ("videos", "labelme_train", "labelme_val", "watermark_dataset")
            if source.get(key)
        ]
        if given:
            raise SourceError(
                f"config keys {', '.join(f'source.{k}' for k in given)} are set but source.kind "
                "is 'demo' (the default), which runs on the generated world: set "
                "'source.kind: videos' to run on your data"
            )
        videos = world_videos(world_specs, reuploads)
    else:
        location = source.get("videos")
        if not location:
            raise SourceError("config key 'source.videos' must be set when source.kind is 'videos'")
        path = Path(location)
        videos = scan_folder(path, exclude) if path.is_dir() else read_sheet(path)
        if not videos:
            raise SourceError(f"config key 'source.videos': no video files found in {location}")
    _check_once(videos)
    return videos


def _check_once(videos: Sequence[SourceVideo]) -> None:
    """Every video once: no id twice, no file twice (by another path or a link)."""
    seen: dict[str, str] = {}
    files: dict[Path, str] = {}
    for video in videos:
        if video.id in seen:
            raise SourceError(
                f"two videos get the same id {video.id}: {seen[video.id]} and {video.path}"
            )
        seen[video.id] = video.path
        real = Path(video.path).resolve()
        if real in files:
            raise SourceError(f"{video.path} and {files[real]} are one file ({real}); list each "
                              "video once")  # fmt: skip
        files[real] = video.path
