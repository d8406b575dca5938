"""Which files of a folder are videos: the one rule the workflow's folder source and the
command-line tools share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from mosaicflow.ids import VIDEO_EXTENSIONS


def _looping(link: Path, target: Path, root: str | os.PathLike[str]) -> str:
    return (
        f"{link}: a symlinked folder that leads to {target}, inside or above the source folder "
        f"{root} or listed already: its videos would be listed twice"
    )


def video_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Video files below ``root``, recursively: folder by folder in sorted order, files sorted
    within each, hidden files and folders skipped, suffixes from ``VIDEO_EXTENSIONS``.

    A symlinked folder is followed when it leads out of ``root`` (videos kept on another
    disk), as symlinked files are; one that leads back into ``root``, above it or to a folder
    already listed would list videos twice (or forever) and is refused.

    Raises:
        ValueError: naming such a symlinked folder and where it leads.
    """
    real_root = Path(root).resolve()
    walked: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath).resolve()
        if here in walked:  # two links to one folder, or a link back up a linked tree
            raise ValueError(_looping(Path(dirpath), here, root))
        walked.add(here)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in dirnames:
            link = Path(dirpath) / name
            target = link.resolve()
            if link.is_symlink() and (
                target.is_relative_to(real_root) or real_root.is_relative_to(target)
            ):
                raise ValueError(_looping(link, target, root))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if not filename.startswith(".") and path.suffix.lower() in VIDEO_EXTENSIONS:
                yield path
