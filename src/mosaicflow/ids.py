"""Stable, filesystem- and shell-safe ids for source videos.

An id is ``<sanitised stem>-<8 hex>``, the hex being the SHA-1 of the video's path relative to its
source root (POSIX separators). The same data gives the same ids wherever it is mounted, and two
files with the same stem in different folders still get different ids.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import PurePath, PurePosixPath

#: The regular expression every video id matches (used as Snakemake's wildcard constraint).
VIDEO_ID_PATTERN = r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*-[0-9a-f]{8}"

#: File extensions treated as videos when a folder is scanned.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"}
)

_MAX_STEM = 48


def sanitise_stem(stem: str) -> str:
    """Reduce a file stem to ASCII letters, digits, ``_`` and single ``-`` separators."""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_stem)
    cleaned = re.sub(r"-{2,}", "-", cleaned)
    cleaned = re.sub(r"(?:^[-_]+)|(?:[-_]+$)", "", cleaned)
    cleaned = re.sub(r"_?-_?", "-", cleaned)
    return cleaned[:_MAX_STEM].strip("-_") or "video"


def video_id(relative_path: str | PurePath) -> str:
    """Return the stable id of a video given its path relative to the source root."""
    rel = PurePosixPath(PurePath(relative_path).as_posix())
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"video path must be relative to the source root: {relative_path}")
    digest = hashlib.sha1(str(rel).encode("utf-8")).hexdigest()[:8]
    return f"{sanitise_stem(rel.stem)}-{digest}"
