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
    """Every file below ``folder`` (links to files too), hidden files and folders skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith("."):
                yield Path(root) / name


def yolo_set_files(folder: str | os.PathLike[str]) -> list[str]:
    """The images, label files and YAML files below a YOLO detection folder, sorted; none for a
    folder that does not exist (the config check names it)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in _walk(folder) if p.suffix.lower() in YOLO_SET_SUFFIXES)


def labelme_files(folder: str | os.PathLike[str]) -> list[str]:
    """The labelme JSON files directly in ``folder`` and the images beside them of the same
    names (``frame.json``, ``frame.jpg``), sorted: what the labelme reader reads. None for a
    folder that does not exist. (A file added or removed changes the folder's date, which
    reruns the jobs as well: the folder is an input too.)"""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()]
    labelled = {p.stem for p in entries if p.suffix.lower() == ".json"}
    return sorted(
        str(p)
        for p in entries
        if p.suffix.lower() == ".json"
        or (p.suffix.lower() in IMAGE_SUFFIXES and p.stem in labelled)
    )
