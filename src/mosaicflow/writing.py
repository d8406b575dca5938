"""A command's output folder for the length of one run: claimed, marked, and left as it was
found when the run fails before writing anything (:func:`writing_into`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from mosaicflow.outputs import MARKER, PathLike, claim_output_dir, mark_output_dir


@contextmanager
def writing_into(
    out_dir: PathLike, command: str, inputs: Iterable[PathLike | None] = (),
    scratch: Iterable[str] = (),
) -> Iterator[Path]:  # fmt: skip
    """Claim ``out_dir`` for ``command`` (:func:`~mosaicflow.outputs.claim_output_dir`), mark
    it, and yield it.

    A run that fails before writing anything into a folder that was new or empty leaves it as
    it found it: the marker and the ``scratch`` entries (the command's own working files) are
    removed, and so is the folder if the run made it. A failure after the first output keeps
    the folder, marked, so the rerun may replace it; a folder of an earlier run stays as it is.

    Args:
        out_dir: the output folder.
        command: the command that writes it, as its marker says.
        inputs: the files and folders the command reads.
        scratch: names in the folder that the command writes for itself, not as output.

    Raises:
        ValueError: as :func:`~mosaicflow.outputs.claim_output_dir`.
    """
    out = claim_output_dir(out_dir, command, inputs)
    existed = out.is_dir()
    fresh = not existed or not any(out.iterdir())
    made = _missing_folders(out)
    mark_output_dir(out, command)
    try:
        yield out
    except BaseException:
        if fresh:
            _unmark_if_unwritten(out, {MARKER, *scratch}, remove_folder=not existed)
            for folder in made[1:]:  # the parents this run made, deepest first, where empty
                with suppress(OSError):
                    folder.rmdir()
        raise


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _unmark_if_unwritten(folder: Path, own: set[str], remove_folder: bool) -> None:
    """Remove the marker and scratch entries of a folder holding nothing else; then the folder
    itself when ``remove_folder``."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    if any(entry.name not in own for entry in entries):
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if remove_folder:
        with suppress(OSError):
            folder.rmdir()
