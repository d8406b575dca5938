"""Where a command may write: never over its inputs, never into a folder it did not make.

An output is refused when it is an input, lies inside an input folder or contains an input
(symlinks resolved), so no command overwrites, re-encodes or removes what it reads. A command
that writes a folder marks it with :data:`MARKER` (a small JSON naming the command) and writes
only into a folder that does not exist, is empty, or holds the marker of an earlier run of the
same command: any other folder may hold the user's files, which the command would replace
(converters swap in a whole new folder) or mix with its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from mosaicflow.io import write_json

#: The file that marks a folder as a command's output (no ``.json`` suffix: folders of labelme
#: JSON are read by globbing ``*.json``).
MARKER = ".mosaicflow-output"

PathLike = str | os.PathLike[str]


def check_apart(output: PathLike, inputs: Iterable[PathLike | None]) -> None:
    """Refuse an output (file or folder) that is an input, lies inside one or contains one.

    Args:
        output: the file or folder a command writes.
        inputs: the files and folders it reads (None entries are skipped).

    Raises:
        ValueError: naming both paths.
    """
    out = Path(output).resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).resolve()
        if out == source:
            raise ValueError(f"{output}: the output is the input {given}; choose another path")
        if out.is_relative_to(source):
            raise ValueError(f"{output}: the output lies inside the input {given}")
        if source.is_relative_to(out):
            raise ValueError(f"{output}: the output folder contains the input {given}")


def _marked_by(folder: Path) -> str | None:
    """The command named by ``folder``'s marker, None without a readable one."""
    try:
        record = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("command") if isinstance(record, dict) else None


def claim_output_dir(
    out_dir: PathLike, command: str, inputs: Iterable[PathLike | None] = ()
) -> Path:
    """Check that ``command`` may write (or replace) the folder ``out_dir``.

    Args:
        out_dir: the output folder.
        command: the command that writes it (``convert labelme-to-yolo``), as its marker says.
        inputs: the files and folders the command reads.

    Returns:
        ``out_dir`` as a path.

    Raises:
        ValueError: naming the folder: it overlaps an input (:func:`check_apart`), is a file,
            or is a non-empty folder without ``command``'s marker.
    """
    out = Path(out_dir)
    check_apart(out, inputs)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: the output folder is a file")
    if out.is_dir() and any(out.iterdir()) and _marked_by(out) != command:
        raise ValueError(
            f"{out}: the output folder is not empty and is not an earlier output of "
            f"`mosaicflow {command}` (it has no {MARKER} naming that command); choose a new or "
            "empty folder: its files would be replaced"
        )
    return out


def mark_output_dir(folder: PathLike, command: str) -> None:
    """Mark ``folder`` as an output of ``command`` (see :func:`claim_output_dir`)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_json(Path(folder) / MARKER, {"command": command})
