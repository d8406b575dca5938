"""Code as an input: a hash of the package modules a rule uses.

Every rule passes ``params: code=code_hash("mosaicflow.mosaic", ...)``. Snakemake reruns a job
when a param changes, so editing ``src/mosaicflow/mosaic/`` reruns exactly the jobs whose rules
name that package (Snakemake's own code trigger only sees the rule body and its script).
The core modules every stage relies on (config, io, provenance) are always included.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CORE_MODULES = ("mosaicflow.config", "mosaicflow.io", "mosaicflow.provenance", "mosaicflow.ids")


def module_files(module: str) -> list[Path]:
    """Return the source files of a ``mosaicflow`` module or subpackage, sorted."""
    parts = module.split(".")
    if parts[0] != "mosaicflow":
        raise ValueError(f"not a mosaicflow module: {module}")
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    if base.is_dir():
        return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
    file = base.with_suffix(".py")
    if file.is_file():
        return [file]
    raise ValueError(f"no such mosaicflow module: {module}")


@functools.cache
def code_hash(*modules: str) -> str:
    """Hash the source of ``modules`` plus the core modules (12 hex characters)."""
    digest = hashlib.sha256()
    for module in sorted(set(modules) | set(CORE_MODULES)):
        for path in module_files(module):
            digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:12]
