"""Which files of a folder are videos: the one rule the workflow's folder source and the
command-line tools share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from mosaicflow.ids import VIDEO_EXTENSIONS


def video_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Video files below ``root``, recursively: folder by folder in sorted order, files sorted
    within each, hidden files and folders skipped, suffixes from ``VIDEO_EXTENSIONS``."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if not filename.startswith(".") and path.suffix.lower() in VIDEO_EXTENSIONS:
                yield path
