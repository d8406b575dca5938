"""The files of a user's folder input (labelme folders, a YOLO watermark set) as rule inputs.

Snakemake dates a folder input by the folder's own modification time, which an edit in place of
a file inside it (labelme's Save, ``cp`` over a file) leaves unchanged. Listing the files as
inputs as well makes such an edit rerun the jobs that read the folder: Snakemake then compares
each file's modification time, and for files up to its checksum limit (1 MB, every labelme JSON
without embedded pixels) their content; a file added or removed changes the set of inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mosaicflow.formats.images import IMAGE_SUFFIXES

#: The files of a YOLO detection folder its training reads: images, label files, data.yaml.
YOLO_SET_SUFFIXES = frozenset({".txt", ".yaml", ".yml", *IMAGE_SUFFIXES})


def _walk(folder: Path) -> Iterable[Path]:
    """Every regular file below ``folder`` (links to one too), through linked folders (each real
    folder once), hidden folders skipped."""
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up, or a second link to one folder
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(root) / name
            if path.is_file():  # a FIFO or device would hang Snakemake's checksum
                yield path


def yolo_set_files(folder: str | os.PathLike[str]) -> list[str]:
    """The images, label files and YAML files below a YOLO detection folder, sorted; none for a
    folder that does not exist (the config check names it)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in _walk(folder) if p.suffix.lower() in YOLO_SET_SUFFIXES)


def labelme_files(folder: str | os.PathLike[str]) -> list[str]:
    """The labelme JSON files directly in ``folder`` (what the labelme reader reads) and every
    image below it (where their ``imagePath`` may point), sorted; none for a folder that does
    not exist. Reading each JSON for its ``imagePath`` would cost a read of every embedded image
    at every plan; an image no JSON names reruns nothing unless it changes."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    labels = [p for p in folder.glob("*.json") if p.is_file()]  # the reader refuses the others
    images = [p for p in _walk(folder) if p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(str(p) for p in (*labels, *images))
