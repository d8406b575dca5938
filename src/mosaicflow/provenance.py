"""Provenance sidecars: which config, code and inputs made an artifact.

Every dataset and model gets ``<artifact>.provenance.json`` (or ``model.json`` for models)
holding the config hash, code hash, input hashes, counts and the package version.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mosaicflow import __version__
from mosaicflow.config import stable_hash
from mosaicflow.io import write_json

PROVENANCE_VERSION = 1
_CHUNK = 1 << 20


def file_hash(path: str | os.PathLike[str], length: int = 16) -> str:
    """SHA-256 of a file's bytes (first ``length`` hex characters)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def tree_hash(
    paths: Iterable[str | os.PathLike[str]], root: str | os.PathLike[str] | None = None
) -> str:
    """Hash many files (names relative to ``root`` plus contents), order-independent."""
    digest = hashlib.sha256()
    entries = sorted(Path(p) for p in paths)
    for path in entries:
        name = path.relative_to(root).as_posix() if root else path.name
        digest.update(name.encode() + b"\0" + file_hash(path).encode() + b"\0")
    return digest.hexdigest()[:16]


def provenance(
    *,
    config: Any,
    code: str,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
    counts: Mapping[str, int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a provenance record.

    Args:
        config: the stage config (dataclass or mapping) that made the artifact.
        code: the rule's code hash (``params.code``).
        inputs: named input files, hashed by content.
        counts: item counts (frames, clips, images...).
        extra: anything else worth recording (metrics, class names...).
    """
    record: dict[str, Any] = {
        "version": PROVENANCE_VERSION,
        "package_version": __version__,
        "config_hash": stable_hash(config),
        "code_hash": code,
        "inputs": {k: file_hash(v) for k, v in sorted((inputs or {}).items())},
        "counts": dict(counts or {}),
    }
    record.update(extra or {})
    return record


def write_provenance(target: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """Write a provenance record atomically as sorted JSON."""
    write_json(target, dict(record))
