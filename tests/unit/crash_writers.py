"""The project's writers of each kind of output, interruptible halfway (for test_crash_safety).

:func:`write` writes version ``version`` of a ``kind`` of output to ``target`` with the writer the
stages use; ``halfway``, when given, is called once the writer has put part of the output into
its temporary (a kill lands there, or the disk fills up there). Run as
``python -m tests.unit.crash_writers KIND TARGET VERSION [trip]``, it writes in a child process;
``trip`` prints ``inside`` at the halfway point and waits there to be killed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

Hook = Callable[[], None]
#: Kinds of output; the last two interrupt a folder's two-rename replacement and a transaction.
KINDS = ("parquet", "checkpoint", "resume", "video", "folder", "folder-fallback", "transaction")
TARGETS = {
    "parquet": "table.parquet",
    "checkpoint": "work/last.pt",
    "resume": "work/resume.pt",
    "video": "clip.mp4",
    "folder": "images",
    "folder-fallback": "images",
    "transaction": "verdicts.parquet",
}


def _pixels(version: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(version).integers(0, 256, shape, dtype=np.uint8)


def _frame(version: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(version)
    return pd.DataFrame({"x": rng.normal(size=20_000), "clip": [f"c{i}" for i in range(20_000)]})


def _state(version: int) -> dict[str, Any]:
    import torch

    generator = torch.Generator().manual_seed(version)
    return {"version": 1, "stage": "stage1", "iteration": version, "epoch": version,
            "weights": torch.randn(500_000, generator=generator)}  # fmt: skip


@contextlib.contextmanager
def _halfway_through(owner: Any, name: str, hook: Hook | None, write: Callable) -> Iterator[None]:
    """Patch ``owner.name`` with ``write(real, hook, ...)`` (when there is a hook)."""
    if hook is None:
        yield
        return
    real = getattr(owner, name)
    with mock.patch.object(owner, name, lambda *a, **k: write(real, hook, *a, **k)):
        yield


def _write_halves(data: bytes, handle: Any, hook: Hook) -> None:
    handle.write(data[: len(data) // 2])
    handle.flush()
    hook()
    handle.write(data[len(data) // 2 :])


def _parquet_halves(real: Callable, hook: Hook, table: Any, where: Any, **kwargs: Any) -> None:
    buffer = io.BytesIO()
    real(table, buffer, **kwargs)
    with open(where, "wb") as handle:
        _write_halves(buffer.getvalue(), handle, hook)


def _torch_halves(real: Callable, hook: Hook, obj: Any, handle: Any, **kwargs: Any) -> None:
    buffer = io.BytesIO()
    real(obj, buffer, **kwargs)
    _write_halves(buffer.getvalue(), handle, hook)


def _copy_halves(real: Callable, hook: Hook, src: Any, dst: Any, **kwargs: Any) -> Any:
    with open(dst, "wb") as handle:
        _write_halves(Path(src).read_bytes(), handle, hook)
    return dst


class _Frames(np.ndarray):
    """Video frames that call ``hook`` once the encoder has put bytes into the temporary."""

    hook: Hook | None = None
    temporaries: Callable[[], list[Path]] = list

    def __iter__(self) -> Iterator[np.ndarray]:
        hook = self.hook
        for i in range(len(self)):
            if hook is not None and any(p.stat().st_size for p in self.temporaries()):
                hook()
                hook = None
            yield np.asarray(self[i])
        if hook is not None:
            raise RuntimeError("the encoder wrote nothing to disk before its last frame")


def _temporaries(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".tmp-{target.name}.*"))


def write(kind: str, target: Path, version: int, halfway: Hook | None = None) -> None:
    """Write version ``version`` of a ``kind`` output to ``target`` (see the module docstring)."""
    target = Path(target)
    if kind == "parquet":
        import pyarrow.parquet as pq

        from mosaicflow.io import write_parquet

        with _halfway_through(pq, "write_table", halfway, _parquet_halves):
            write_parquet(target, _frame(version))
    elif kind == "checkpoint":
        import torch

        from mosaicflow.restore.checkpoint import save_last

        with _halfway_through(torch, "save", halfway, _torch_halves):
            save_last(target.parent, _state(version))
    elif kind == "resume":  # what fit.py's on_model_save callback does with ultralytics' last.pt
        import shutil

        from mosaicflow.io import save_torch
        from mosaicflow.yolo.fit import copy_atomic

        last = save_torch(_state(version), target.parent / "run" / "weights" / "last.pt")
        with _halfway_through(shutil, "copyfile", halfway, _copy_halves):
            copy_atomic(last, target)
    elif kind == "video":
        from mosaicflow.datasets.clips.media import write_clip_video

        frames = _pixels(version, (48, 64, 64, 3)).view(_Frames)
        frames.hook, frames.temporaries = halfway, lambda: _temporaries(target)
        write_clip_video(target, frames, fps=10.0, codec="x264", crf=15)
    elif kind == "folder":
        _write_folder(target, version, halfway)
    elif kind == "folder-fallback":
        with _fallback_replacement(halfway):
            _write_folder(target, version, None)
    elif kind == "transaction":
        from mosaicflow.io import atomic_files, write_json, write_parquet

        with _replace_then(halfway, ".txn-"), atomic_files(target, _record(target)) as (a, b):
            write_parquet(a, _frame(version))
            write_json(b, {"version": version})
    else:
        raise ValueError(f"unknown kind {kind!r}")


def _record(target: Path) -> Path:
    """The second file of a transaction."""
    return target.with_suffix(".json")


def _write_folder(target: Path, version: int, halfway: Hook | None) -> None:
    """A folder of 16 PNG images (mosaicflow.io.atomic_dir); ``halfway`` after the eighth."""
    import cv2

    from mosaicflow.io import atomic_dir

    with atomic_dir(target) as tmp:
        for i in range(16):
            image = _pixels(version * 100 + i, (48, 48, 3))
            (tmp / f"{i:02d}.png").write_bytes(cv2.imencode(".png", image)[1].tobytes())
            if i == 7 and halfway is not None:
                halfway()


@contextlib.contextmanager
def _fallback_replacement(halfway: Hook | None) -> Iterator[None]:
    """No ``RENAME_EXCHANGE`` (as on NFS); ``halfway`` once the target is moved aside."""
    import mosaicflow.io

    real = mosaicflow.io._renameat2

    def renameat2(src: Path, dst: Path, flags: int) -> bool:
        return False if flags == mosaicflow.io._RENAME_EXCHANGE else real(src, dst, flags)

    with mock.patch.object(mosaicflow.io, "_renameat2", renameat2), _replace_then(halfway, None):
        yield


@contextlib.contextmanager
def _replace_then(halfway: Hook | None, source_prefix: str | None) -> Iterator[None]:
    """Call ``halfway`` after the first ``os.replace`` from a ``source_prefix`` name (None: to
    a ``.old-`` name)."""
    if halfway is None:
        yield
        return
    real = os.replace

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        real(src, dst, **kwargs)
        moved_aside = source_prefix is None and Path(dst).name.startswith(".old-")
        if moved_aside or (source_prefix and Path(src).name.startswith(source_prefix)):
            halfway()

    with mock.patch.object(os, "replace", replace):
        yield


def snapshot(target: Path, kind: str) -> dict[str, bytes] | None:
    """The output's content (a folder: every file; a transaction: both files); None if absent."""
    target = Path(target)
    paths = [target, _record(target)] if kind == "transaction" else [target]
    if not any(p.exists() for p in paths):
        return None
    out = {}
    for path in paths:
        if path.is_dir():
            out |= {str(p.relative_to(target)): p.read_bytes() for p in path.rglob("*.png")}
        elif path.exists():
            out[path.name] = path.read_bytes()
    return out


def _trip() -> None:
    print("inside", flush=True)
    while True:
        signal.pause()


def main(argv: list[str]) -> int:
    """Write one output; ``trip``: stop halfway and wait for SIGKILL."""
    signal.alarm(300)  # an orphan never outlives its test by long
    kind, target, version = argv[0], Path(argv[1]), int(argv[2])
    trip = argv[3:] == ["trip"]
    write(kind, target, version, _trip if trip else None)
    if trip:
        print(json.dumps({"error": "finished without reaching the halfway point"}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
