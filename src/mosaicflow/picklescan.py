"""The globals a torch checkpoint's pickle names, read without unpickling it.

Unpickling calls whatever globals the pickle names (``posix.system``, ``builtins.exec``), so the
configuration's check (:func:`mosaicflow.config.validate_config`) reads them statically, with
the standard library alone, before any job runs: a checkpoint naming a global outside the
families a model file holds (torch's and ultralytics' classes and rebuild functions, plain
containers, numpy scalars, paths, dates) is refused there. That check is a first gate: the load
itself is the authority (``torch.load(weights_only=True)`` for state dicts, ultralytics'
restricted loader for YOLO checkpoints, :mod:`mosaicflow.yolo.checkpoint`), which refuses even a
global of an allowed family that is not on its exact allow-list.
"""

from __future__ import annotations

import os
import pickletools
import zipfile
from pathlib import Path

#: Module families whose globals a model checkpoint may name (the load decides class by class).
ALLOWED_MODULE_PREFIXES = (
    "torch",
    "ultralytics",
    "numpy",
    "collections",
    "pathlib",
    "datetime",
    "mmengine",
)
#: Builtins a checkpoint may name: types that hold data, never a callable that runs code.
ALLOWED_BUILTINS = frozenset(
    {"set", "frozenset", "slice", "complex", "bytearray", "bytes", "range", "object", "tuple"}
)
#: Helpers the pickle protocol itself emits for plain objects and bytes.
ALLOWED_GLOBALS = frozenset({"_codecs.encode", "copyreg._reconstructor", "types.SimpleNamespace"})
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
#: Python 2 module names protocol 2 writes, as the unpickler maps them.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
#: What :func:`pickle_globals` reports for a ``STACK_GLOBAL`` whose names it cannot read.
UNRESOLVED = "<unresolved>"


class NotATorchArchive(ValueError):
    """The file is not a torch zip archive (``torch.save``'s format since torch 1.6)."""


def _pickle_bytes(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1:
                raise NotATorchArchive(f"{path}: a zip file without one data.pkl")
            return archive.read(names[0])
    except zipfile.BadZipFile as err:
        raise NotATorchArchive(f"{path}: not a torch zip archive ({err})") from err


def pickle_globals(data: bytes) -> list[str]:
    """Every global (``module.name``) a pickle names, in order of first appearance.

    ``GLOBAL`` carries its names; ``STACK_GLOBAL`` takes the two strings pushed before it
    (literals or memo entries). A ``STACK_GLOBAL`` whose names come from anything else is
    reported as :data:`UNRESOLVED` (only a crafted pickle builds them otherwise).
    """
    found: list[str] = []
    memo: dict[int, str | None] = {}
    pushed: list[str | None] = []  # what the last ops pushed: a string, or None for anything else
    for op, arg, _ in pickletools.genops(data):
        name = op.name
        if name == "GLOBAL":
            module, _, attr = str(arg).partition(" ")
            found.append(f"{_PY2_MODULES.get(module, module)}.{attr}")
            pushed.append(None)
        elif name == "STACK_GLOBAL":
            module, attr = (pushed[-2], pushed[-1]) if len(pushed) >= 2 else (None, None)
            found.append(f"{module}.{attr}" if module and attr else UNRESOLVED)
            pushed.append(None)
        elif name in _STRING_OPS:
            pushed.append(str(arg))
        elif name in _PUT_OPS:
            memo[int(arg)] = pushed[-1] if pushed else None
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in _GET_OPS:
            pushed.append(memo.get(int(arg)))
        else:
            pushed.append(None)
    return list(dict.fromkeys(found))


def allowed_global(name: str) -> bool:
    """Whether a model checkpoint may name ``name`` (``module.attribute``) at all."""
    module, _, attr = name.rpartition(".")
    if module == "builtins":
        return attr in ALLOWED_BUILTINS
    if name in ALLOWED_GLOBALS:
        return True
    return any(module == p or module.startswith(p + ".") for p in ALLOWED_MODULE_PREFIXES)


def foreign_globals(path: str | os.PathLike[str]) -> list[str]:
    """The globals of a torch checkpoint that no model file names (empty: none).

    Raises:
        NotATorchArchive: the file is not a torch zip archive (the load reports what it is).
    """
    return [g for g in pickle_globals(_pickle_bytes(Path(path))) if not allowed_global(g)]
