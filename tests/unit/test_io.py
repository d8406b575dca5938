"""Atomic writes: a failed write leaves the previous output intact and no partial file."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from mosaicflow.io import atomic_dir, atomic_path, read_json, write_json, write_parquet


def test_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError, match=r"^crash$"), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("crash")
    assert read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_dir_swaps_complete_folders_only(tmp_path):
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    with pytest.raises(RuntimeError, match=r"^crash$"), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_json_and_parquet_are_byte_stable(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    write_parquet(tmp_path / "a.parquet", frame)
    write_parquet(tmp_path / "b.parquet", frame)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_malformed_json_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValueError, match=r"bad\.json: malformed JSON"):
        read_json(bad)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"label": "d\u00e9j\u00e0"}'.encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.json: not UTF-8 JSON"):
        read_json(latin)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"deep\.json: malformed JSON"):
        read_json(deep)


def test_outputs_get_normal_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_save_torch_gives_the_same_bytes_under_any_name(tmp_path):
    import torch

    from mosaicflow.io import save_torch

    state = {"w": torch.arange(6.0).reshape(2, 3)}
    a, b = save_torch(state, tmp_path / "a.pth"), save_torch(state, tmp_path / "b" / "c.pth")
    assert a.read_bytes() == b.read_bytes()
    assert torch.equal(torch.load(a, weights_only=True)["w"], state["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pth", "b"]  # no temporary left


def _leftover(kind: str, name: str, pid: int, *, start: int | None = None, host: str = "") -> str:
    """A name of the pattern mosaicflow.io documents for its temporaries."""
    from mosaicflow import io

    owner = f"{pid}-{start}" if start is not None else str(pid)
    return f".{kind}-{name}.{owner}@{host or io._host()}.0123abcd"


def _dead_owner() -> dict[str, int]:
    """The pid and start time of a process that has ended (a reuse of the pid has another)."""
    import subprocess

    child = subprocess.Popen(["sleep", "60"])
    start = _start_of(child.pid)
    child.kill()
    child.wait()
    return {"pid": child.pid, "start": start}


def _start_of(pid: int) -> int:
    from mosaicflow import io

    start = io._start_ticks(pid)
    assert start is not None and start > 0
    return start


def test_clean_stale_removes_what_dead_writers_left_and_nothing_else(tmp_path, monkeypatch):
    import os

    from mosaicflow import io

    dead, parent = _dead_owner(), os.getppid()
    gone = {
        _leftover("tmp", "a.json", **dead) + ".json": "file",
        _leftover("tmp", "b", dead["pid"]): "dir",  # no start time: named where /proc is absent
        _leftover("tmp", "c.json", parent, start=_start_of(parent) + 1): "file",  # pid reused
        _leftover("old", "kept", **dead): "dir",  # beside its target: removed
    }
    kept = {
        _leftover("tmp", "d.json", os.getpid()): "file",  # this process is writing it
        _leftover("tmp", "e.json", parent, start=_start_of(parent)): "file",  # alive
        _leftover("tmp", "f.json", **dead, host="elsewhere"): "file",  # another host's, fresh
        ".tmp-g.json.x1y2z3": "file",  # mkstemp's naming, not ours
        "notes.txt": "file",
        "kept": "dir",
    }
    for name, what in {**gone, **kept}.items():
        if what == "dir":
            (tmp_path / name).mkdir()
            (tmp_path / name / "x.png").write_bytes(b"png")
        else:
            (tmp_path / name).write_text("partial")
    restored = _leftover("old", "restored", **dead)
    (tmp_path / restored).mkdir()
    (tmp_path / restored / "a.txt").write_text("previous")
    done = io.clean_stale(tmp_path)
    assert sorted(done) == sorted([*gone, restored])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "restored"])
    assert (tmp_path / "restored" / "a.txt").read_text() == "previous"
    assert (tmp_path / "kept" / "x.png").exists()
    monkeypatch.setattr(io, "STALE_AFTER_S", -1.0)  # the other host's leftover is now old
    assert io.clean_stale(tmp_path) == [_leftover("tmp", "f.json", **dead, host="elsewhere")]
    assert io.clean_stale(tmp_path / "missing") == []


def test_the_next_write_restores_a_folder_a_dead_writer_moved_aside(tmp_path):
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("previous")
    target.rename(tmp_path / _leftover("old", "ds", **_dead_owner()))  # killed between the renames
    with atomic_dir(tmp_path / "other"):  # the next folder written there
        pass
    assert (target / "a.txt").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "other"]
    fresh = tmp_path / "fresh"  # a folder this process has not written into yet
    fresh.mkdir()
    target.rename(fresh / _leftover("old", "ds", **_dead_owner()))
    write_json(fresh / "a.json", {})  # its first file write cleans it
    assert sorted(p.name for p in fresh.iterdir()) == ["a.json", "ds"]


def test_writes_fsync_the_data_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    import os
    import stat

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync " + ("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(src, dst, **kwargs):
        events.append(f"replace {os.path.basename(dst)}")
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_json(tmp_path / "new" / "a.json", {"a": 1})
    # the file, the rename, its folder, and the folder's entry in its parent (it was created)
    assert events == ["fsync file", "replace a.json", "fsync dir", "fsync dir"]
    events.clear()
    with atomic_dir(tmp_path / "d") as folder:
        for i in range(3):
            write_json(folder / "sub" / f"{i}.json", {})
        # left to atomic_dir, which syncs the whole folder (one syncfs on Linux) before its swap
        assert events == [f"replace {i}.json" for i in range(3)]
    assert read_json(tmp_path / "d" / "sub" / "2.json") == {}


def test_atomic_dir_swaps_in_one_step(tmp_path, monkeypatch):
    import os

    from mosaicflow import io

    if io._libc_call("renameat2") is None:
        pytest.skip("no renameat2 here: atomic_dir uses two renames")
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    real = os.replace

    def replace(src, dst, **kwargs):
        assert target not in (Path(src), Path(dst)), "the target was renamed away"
        real(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_atomic_dir_without_the_exchange_replaces_with_two_renames(tmp_path, monkeypatch):
    from mosaicflow import io

    monkeypatch.setattr(io, "_libc_call", lambda name: None)  # as on macOS
    target = tmp_path / "ds"
    for content in ("1", "2"):
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text(content)
    assert (target / "a.txt").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_no_write_changes_the_process_umask(tmp_path, monkeypatch):
    import os
    import tempfile

    def umask(mask):
        raise AssertionError("the process umask was changed (it races with other threads)")

    monkeypatch.setattr(os, "umask", umask)
    write_json(tmp_path / "a.json", {})
    with atomic_dir(tmp_path / "d") as tmp:
        (tmp / "x").write_text("1")
    with atomic_path(tmp_path / "b.bin") as tmp:  # a library that renames its own mkstemp file
        fd, own = tempfile.mkstemp(dir=tmp_path)
        os.close(fd)
        os.replace(own, tmp)
    monkeypatch.undo()
    expected = 0o666 & ~_current_umask()
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == expected
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == expected
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~_current_umask()


def _current_umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_files_commit_all_or_nothing(tmp_path):
    from mosaicflow.io import atomic_files, write_text

    a, b = tmp_path / "a.txt", tmp_path / "b.json"
    write_text(a, "a1")
    with pytest.raises(OSError, match="disk full"), atomic_files(a, b) as (ta, tb):
        write_text(ta, "a2")
        raise OSError("disk full")
    assert a.read_text() == "a1" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with atomic_files(a, b) as (ta, tb):
        write_text(ta, "a2")
        write_json(tb, {"b": 2})
    assert a.read_text() == "a2" and read_json(b) == {"b": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.json"]
    with pytest.raises(ValueError, match="one folder"), atomic_files(a, tmp_path / "x" / "c"):
        pass


def test_a_held_folder_lock_fails_at_once_naming_its_holder(tmp_path):
    import os

    from mosaicflow.io import LockHeldError, folder_lock

    with folder_lock(tmp_path, "first import") as lock:
        assert lock == tmp_path / ".mosaicflow.lock"
        holder = rf"^{re.escape(str(lock))}: locked by first import \(pid {os.getpid()} on "
        with pytest.raises(LockHeldError, match=holder), folder_lock(tmp_path, "second import"):
            pass
    with folder_lock(tmp_path, "second import"):  # released
        pass
    assert not (tmp_path / ".mosaicflow.lock.json").exists()
