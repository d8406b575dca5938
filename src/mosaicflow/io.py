"""Atomic output writing: every artifact appears complete or not at all.

Writers create a temporary sibling (same folder, so the final ``os.replace`` is atomic on POSIX)
and rename it into place only after the data is flushed. A crash leaves at most a ``.tmp-*``
file behind, never a truncated output, and never touches other outputs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it to ``target`` on success.

    Args:
        target: the final file path.
        suffix: suffix of the temporary file (defaults to the target's, so libraries that pick
            a format from the extension, such as PyAV or OpenCV, still do the right thing).

    Yields:
        A path to write to. On an exception it is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".tmp-{target.name}.",
        suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs are shared files
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; swap it into place on success.

    An existing ``target`` is replaced only after the new content is complete.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}.", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
        if target.exists():
            old = target.with_name(f".old-{target.name}.{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes(target, text.encode("utf-8"))


def json_text(obj: Any) -> str:
    """``obj`` as stable, indented, key-sorted JSON text (identical for equal objects)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as stable, indented, key-sorted JSON (byte-identical for equal objects)."""
    write_text(target, json_text(obj))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, naming the file in the error if it is malformed."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: malformed JSON ({err})") from err


def load_yaml(text: str) -> Any:
    """Parse YAML safely, with libyaml's C parser where PyYAML has it (ten times faster)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def write_parquet(target: str | os.PathLike[str], frame: Any) -> None:
    """Write a pandas DataFrame to parquet atomically, without the pandas index.

    Parquet files are written without wall-clock metadata so equal frames give equal bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def save_torch(obj: Any, target: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``target`` atomically and byte-reproducibly.

    torch names the archive's records after a path's stem, so saving to the temporary file's
    path would put its random name into the bytes; a file object gives a fixed name.
    """
    import torch

    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)
    return Path(target)
