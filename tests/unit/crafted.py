"""Checkpoints whose unpickling would create a marker file: what every model load must refuse."""

from __future__ import annotations

import builtins
import os
import shlex
from pathlib import Path
from typing import Any

#: The crafted kinds and the global each names (torch's restricted unpickler refuses it).
GLOBALS = {"system": "posix.system", "exec": "builtins.exec"}


class _Call:
    """Unpickles as ``func(*args)``: the pickle names ``func`` as a global."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def payload(kind: str, marker: Path) -> _Call:
    """An object whose unpickling creates ``marker`` (with ``os.system`` or ``exec``)."""
    if kind == "system":
        return _Call(os.system, f"touch {shlex.quote(str(marker))}")
    return _Call(builtins.exec, f"open({str(marker)!r}, 'w').close()")


def crafted_checkpoint(path: Path, marker: Path, kind: str = "system", base: Any = None) -> Path:
    """Write a ``.pt`` whose loading would create ``marker``.

    Args:
        path: the file to write.
        marker: the file its unpickling would create.
        kind: ``system`` (``posix.system``) or ``exec`` (``builtins.exec``).
        base: an otherwise valid checkpoint dict to hide the payload in (after its model, so
            the unpickler meets ultralytics' classes first); None = a bare dict.
    """
    import torch

    ckpt = dict(base) if base is not None else {}
    ckpt["train_args"] = {**(ckpt.get("train_args") or {}), "note": payload(kind, marker)}
    torch.save(ckpt, path)
    return path
