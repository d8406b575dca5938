"""Names read from a file that must stay inside their folder."""

from __future__ import annotations

from pathlib import Path


def is_bare_name(name: str) -> bool:
    """``name`` is a file name alone: not empty, ``.`` or ``..``, and without a folder, a
    backslash or a NUL (an index or export naming a file of its own folder)."""
    return (
        bool(name)
        and name not in (".", "..")
        and "\0" not in name
        and "\\" not in name
        and Path(name).name == name
    )
