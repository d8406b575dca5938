"""What each module source imports, kept between processes, so code hashing parses less.

Reading a module's imports (:func:`mosaicflow.plan.codehash.imported_modules`) means parsing it,
and every Snakemake process (a run, a dry run, each job of a cluster run) hashes the code of the
rules it plans: the same unchanged modules are parsed again and again. The names read from a
module are kept in one JSON file per version of the reader, keyed by the module's dotted name,
its file name and the sha256 of its bytes: an edited module is read afresh, and an entry can
never be stale.

The file lives in ``$MOSAICFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/mosaicflow``, else
``~/.cache/mosaicflow``. A file that cannot be read or written, or that another user owns, is
ignored: the imports are then read from the sources every time, with the same result.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from mosaicflow.io import write_json

#: Environment variable naming the cache folder.
CACHE_DIR_ENV = "MOSAICFLOW_CACHE_DIR"
#: Entries a saved file keeps at most; beyond it only the entries this process used are kept.
MAX_ENTRIES = 4096
#: A file larger than this (bytes) is not read: no cache of MAX_ENTRIES entries comes near it.
MAX_FILE_BYTES = 16 * 1024 * 1024


def cache_folder() -> Path | None:
    """The folder of mosaicflow's caches, or None when there is no home to put it in."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "mosaicflow"
    try:
        return Path.home() / ".cache" / "mosaicflow"
    except RuntimeError:  # no HOME and no password entry
        return None


def _read_entries(file: Path | None) -> dict[str, list[str]]:
    """The entries of ``file``; empty when it is missing, unreadable, too large, another user's
    (whose entries this user's hashes would then trust) or not such a mapping."""
    if file is None:
        return {}
    try:
        info = file.stat()
        if info.st_size > MAX_FILE_BYTES or info.st_uid != os.getuid():
            return {}
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        key: names
        for key, names in data.items()
        if isinstance(names, list) and all(isinstance(name, str) for name in names)
    }


class ImportsCache:
    """The imported names of module sources, read from ``file`` and saved back to it.

    Args:
        file: the JSON file (None: nothing is kept between processes).
    """

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.entries = _read_entries(file)
        self.used: set[str] = set()
        self.added = 0

    @classmethod
    def for_reader(cls, version: str) -> ImportsCache:
        """The cache of the import reader whose code hashes to ``version``."""
        folder = cache_folder()
        return cls(folder / f"imports-{version}.json" if folder else None)

    def names(
        self, path: Path, module: str, source: bytes, read: Callable[[], set[str]]
    ) -> set[str]:
        """The names ``read()`` gives for the module ``module`` at ``path`` whose bytes are
        ``source``, from the cache when it holds them."""
        key = f"{module}|{path.name}|{hashlib.sha256(source).hexdigest()}"
        self.used.add(key)
        if key in self.entries:
            return set(self.entries[key])
        names = read()
        self.entries[key] = sorted(names)
        self.added += 1
        return names

    def save(self) -> None:
        """Write the entries (with those other processes saved meanwhile) when any was added;
        atomically, and silently not at all where the folder cannot be written."""
        if not self.added or self.file is None:
            return
        merged = {**_read_entries(self.file), **self.entries}
        if len(merged) > MAX_ENTRIES:
            merged = {key: self.entries[key] for key in self.used if key in self.entries}
        try:
            write_json(self.file, merged)
        except OSError:
            return
        self.added = 0
