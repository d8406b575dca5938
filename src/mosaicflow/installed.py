"""Files that ship with the installation: the repository's resources (the restorer base) and
data inside installed packages (the nudenet detector in its wheel).

A rule names such a file by a reference (where in the installation, and its content hash),
never by its absolute path: a results folder stays valid when the checkout or the environment
moves or is rebuilt, and a changed file still reruns the jobs that read it. A user's own files
are not references; rules take them as inputs.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

from mosaicflow.config import REPO_ROOT
from mosaicflow.provenance import file_hash

#: The ``in`` of a reference to a file of the repository checkout.
REPOSITORY = "repository"
#: The repository's folder of shipped files (weights a run may start from).
RESOURCES = REPO_ROOT / "resources"


class InstalledFileError(RuntimeError):
    """A referenced file is missing from this installation or differs from the planned one."""


def _package_root(package: str) -> Path | None:
    """The folder that holds the installed ``package`` (its site-packages), or None."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).resolve().parent.parent


@functools.lru_cache(maxsize=64)
def _hash(path: str, size: int, mtime_ns: int) -> str:
    return file_hash(path, 64)


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file (hex), computed once per process for an unchanged file."""
    stat = Path(path).stat()
    return _hash(str(path), stat.st_size, stat.st_mtime_ns)


def reference(path: str | os.PathLike[str], package: str | None = None) -> dict[str, str] | None:
    """``{"in": ..., "file": ..., "sha256": ...}`` for a file of the installed ``package`` (``in``
    is the package's name, ``file`` the path below its site-packages) or of the repository's
    ``resources/`` folder (``in`` is :data:`REPOSITORY`, ``file`` the path in the checkout);
    None for any other file."""
    resolved = Path(path).resolve()
    if package and (root := _package_root(package)) and resolved.is_relative_to(root):
        file = resolved.relative_to(root).as_posix()
        return {"in": package, "file": file, "sha256": content_hash(resolved)}
    if resolved.is_relative_to(RESOURCES.resolve()):
        file = resolved.relative_to(REPO_ROOT.resolve()).as_posix()
        return {"in": REPOSITORY, "file": file, "sha256": content_hash(resolved)}
    return None


def is_reference(value: Any) -> bool:
    """Whether ``value`` is a :func:`reference`."""
    return isinstance(value, dict) and set(value) == {"in", "file", "sha256"}


def locate(ref: dict[str, str]) -> Path:
    """The file ``ref`` names in this installation.

    Raises:
        InstalledFileError: the package is not installed, the file is missing, or its content
            is not the one the workflow planned with (naming the file and both hashes).
    """
    root = REPO_ROOT if ref["in"] == REPOSITORY else _package_root(ref["in"])
    if root is None:
        raise InstalledFileError(
            f"{ref['file']}: the package {ref['in']!r} that ships it is not installed here"
        )
    path = root / ref["file"]
    if not path.is_file():
        raise InstalledFileError(f"{path}: missing from this installation ({ref['in']})")
    actual = content_hash(path)
    if actual != ref["sha256"]:
        raise InstalledFileError(
            f"{path}: its content (sha256 {actual[:16]}) is not the planned one "
            f"({ref['sha256'][:16]}); it changed after the workflow was planned: run again"
        )
    return path


def path_of(value: Any) -> Any:
    """A reference's path (:func:`locate`, as a string); any other value unchanged."""
    return str(locate(value)) if is_reference(value) else value


def portable(value: Any) -> Any:
    """``value`` (a config, or any part of one) with every path to a file of the repository's
    ``resources/`` replaced by its :func:`reference`: the same for every checkout."""
    if isinstance(value, dict):
        return {key: portable(sub) for key, sub in value.items()}
    if isinstance(value, list | tuple):
        return [portable(sub) for sub in value]
    if isinstance(value, str) and Path(value).is_absolute() and Path(value).is_file():
        return reference(value) or value
    return value
