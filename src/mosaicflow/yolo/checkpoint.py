"""Every YOLO model the project loads is loaded here; a checkpoint never runs code.

A ``.pt`` checkpoint is a pickle, and unpickling one may call anything it names (``os.system``).
:func:`read_checkpoint` unpickles it with ultralytics' restricted loader
(``torch_safe_load(safe_only=True)``: ``torch.load(weights_only=True)`` against ultralytics'
allow-list of checkpoint globals: its model classes, ``IterableSimpleNamespace``, numpy
scalars, paths) before ultralytics' own loader could see it; a file naming anything else is
refused with :class:`UnsafeCheckpointError`, which names the file, the config key or option it
came from and the offending global. :func:`load_yolo` builds the model after that check, with
ultralytics' restricted loading switched on for the process
(:func:`~mosaicflow.yolo.offline.require_safe_load`), so ultralytics' own loads (the model, and
``last.pt`` when a training resumes) are restricted too. An ``.onnx`` model is run by
onnxruntime, which unpickles nothing; a ``.yaml`` builds an untrained model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mosaicflow.yolo.offline import require_safe_load

#: Suffixes :func:`load_yolo` accepts: checkpoints (checked), ONNX exports, architectures.
CHECKPOINT_SUFFIX = ".pt"
OTHER_SUFFIXES = (".onnx", ".yaml", ".yml")
#: The global torch's restricted unpickler names when it refuses one.
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


class CheckpointError(ValueError):
    """A YOLO model file that cannot be read (names the file and where it came from)."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint whose unpickling would call a global outside ultralytics' allow-list."""


def _named(path: str | os.PathLike[str], origin: str | None) -> str:
    return f"{path} ({origin})" if origin else str(path)


def _refused_global(err: BaseException) -> str | None:
    """The global torch's restricted unpickler refused (``posix.system``), if it names one;
    torch writes builtins without their module (``exec``)."""
    match = _GLOBAL.search(str(err))
    if match is None:
        return None
    name = match.group(1)
    return name if "." in name else f"builtins.{name}"


def _reason(err: BaseException) -> str:
    """The informative line of a load error (torch's messages open with advice)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("Unsupported", "Trying to load")):
            return line
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def read_checkpoint(path: str | os.PathLike[str], *, origin: str | None = None) -> Any:
    """Unpickle an ultralytics checkpoint with ultralytics' restricted loader.

    Args:
        path: the ``.pt`` file.
        origin: the config key or command-line option the path came from (named in errors).

    Returns:
        The checkpoint (a dict for an ultralytics checkpoint).

    Raises:
        UnsafeCheckpointError: it names a global outside ultralytics' allow-list.
        CheckpointError: it is missing, or not a checkpoint torch can read.
    """
    import torch
    from ultralytics.nn.tasks import torch_safe_load

    where = _named(path, origin)
    if not Path(path).is_file():
        raise CheckpointError(f"{where}: no such checkpoint file")
    if not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):
        # ultralytics' restricted loader falls back to a full load on torch < 2.6
        raise RuntimeError(f"torch {torch.__version__} cannot load {where} restricted")
    try:
        ckpt, _ = torch_safe_load(str(path), safe_only=True)
    except Exception as err:  # ultralytics and torch raise many kinds for a foreign file
        cause = err.__cause__ or err
        name = _refused_global(cause)
        if name is not None:
            raise UnsafeCheckpointError(
                f"{where}: refused: it names {name}, a global outside ultralytics' allow-list "
                "of checkpoint globals (unpickling it could run code)"
            ) from err
        reason = _reason(cause)
        raise CheckpointError(f"{where}: not a readable YOLO checkpoint ({reason})") from err
    return ckpt


def load_yolo(
    path: str | os.PathLike[str], task: str | None = None, *, origin: str | None = None
) -> Any:
    """The ultralytics ``YOLO`` model of ``path``, a checkpoint read restricted first.

    Args:
        path: a checkpoint (``.pt``), an ONNX export or an architecture ``.yaml``.
        task: the model's task (``segment``, ``detect``); None = what the file says.
        origin: the config key or command-line option the path came from (named in errors).

    Returns:
        The ``ultralytics.YOLO`` model.

    Raises:
        UnsafeCheckpointError, CheckpointError: see :func:`read_checkpoint`; also for a suffix
            that is none of the above.
    """
    require_safe_load()
    suffix = Path(path).suffix.lower()
    if suffix == CHECKPOINT_SUFFIX:
        read_checkpoint(path, origin=origin)
    elif suffix not in OTHER_SUFFIXES:
        raise CheckpointError(
            f"{_named(path, origin)}: not a YOLO model file "
            f"({', '.join((CHECKPOINT_SUFFIX, *OTHER_SUFFIXES))} expected)"
        )
    from ultralytics import YOLO

    return YOLO(str(path), task=task)
