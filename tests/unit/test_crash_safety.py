"""Nothing lost: a writer killed (SIGKILL) or failing (a full disk) halfway through an output
leaves its previous version, the rerun writes the same bytes as an uninterrupted run, a second
Snakemake on a working folder changes nothing, and a YOLO resume skips a truncated checkpoint.

The kills land mid-write by construction: the child (:mod:`tests.unit.crash_writers`) stops
inside the project's writer once part of the output is in its temporary and says so on a pipe.
"""

from __future__ import annotations

import errno
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mosaicflow.io import atomic_files, clean_stale, write_json, write_parquet
from tests.unit.crash_writers import TARGETS, snapshot, write

REPO = Path(__file__).resolve().parents[2]
LEFTOVER = (".tmp-", ".old-", ".txn-", ".jnl-")
FILE_KINDS = ("parquet", "checkpoint", "resume", "video")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(LEFTOVER))


def child(kind: str, target: Path, version: int, *mode: str) -> list[str]:
    module = "tests.unit.crash_writers"
    return [sys.executable, "-m", module, kind, str(target), str(version), *mode]


def kill_halfway(kind: str, target: Path, version: int) -> None:
    """Start a child writing ``version``, SIGKILL it once it is halfway through."""
    proc = subprocess.Popen(child(kind, target, version, "trip"), cwd=REPO, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 240)
        line = proc.stdout.readline() if ready else ""
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=60)
    assert line == "inside\n", f"{kind}: the writer did not stop halfway ({line!r}): {err[-3000:]}"
    assert proc.returncode == -signal.SIGKILL


def rerun(kind: str, target: Path, version: int) -> None:
    done = subprocess.run(child(kind, target, version), cwd=REPO, env=ENV, text=True,
                          capture_output=True, timeout=240, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def reference(kind: str, tmp_path: Path, version: int) -> dict[str, bytes] | None:
    """What an uninterrupted write of ``version`` gives."""
    target = tmp_path / "reference" / TARGETS[kind]
    write(kind, target, version)
    return snapshot(target, kind)


@pytest.mark.parametrize("kind", [*FILE_KINDS, "folder"])
def test_a_kill_halfway_keeps_the_previous_output_and_the_rerun_completes(kind, tmp_path):
    target = tmp_path / "out" / TARGETS[kind]
    write(kind, target, 1)
    previous = snapshot(target, kind)
    kill_halfway(kind, target, 2)
    assert snapshot(target, kind) == previous
    partial = [target.parent / name for name in leftovers(target.parent)]
    assert [p.name[:5] for p in partial] == [".tmp-"]  # the kill landed inside the write
    if kind != "folder":
        assert 0 < partial[0].stat().st_size < len(reference(kind, tmp_path, 2)[target.name])
    rerun(kind, target, 2)
    assert snapshot(target, kind) == reference(kind, tmp_path, 2) != previous
    assert leftovers(target.parent) == []  # the rerun removed the dead writer's temporary


@pytest.mark.parametrize("kind", ["parquet", "folder"])
def test_a_kill_during_the_first_write_leaves_no_output(kind, tmp_path):
    target = tmp_path / "out" / TARGETS[kind]
    kill_halfway(kind, target, 2)
    assert snapshot(target, kind) is None
    rerun(kind, target, 2)
    assert snapshot(target, kind) == reference(kind, tmp_path, 2)
    assert leftovers(target.parent) == []


def test_a_kill_between_the_two_renames_of_a_folder_is_undone(tmp_path):
    # where renameat2's exchange is unsupported (NFS), atomic_dir renames the target aside first
    target = tmp_path / "out" / TARGETS["folder"]
    write("folder", target, 1)
    previous = snapshot(target, "folder")
    kill_halfway("folder-fallback", target, 2)
    assert not target.exists()
    assert [name[:5] for name in leftovers(target.parent)] == [".old-", ".tmp-"]
    clean_stale(target.parent)
    assert snapshot(target, "folder") == previous
    assert leftovers(target.parent) == []
    rerun("folder-fallback", target, 2)
    assert snapshot(target, "folder") == reference("folder", tmp_path, 2)


def test_a_kill_inside_a_commit_of_two_files_is_rolled_forward(tmp_path):
    target = tmp_path / "review" / TARGETS["transaction"]
    write("transaction", target, 1)
    previous = snapshot(target, "transaction")
    kill_halfway("transaction", target, 2)  # after the first of the two renames
    new = reference("transaction", tmp_path, 2)
    halfway = snapshot(target, "transaction")
    assert halfway == {target.name: new[target.name], "verdicts.json": previous["verdicts.json"]}
    assert [name[:5] for name in leftovers(target.parent)] == [".jnl-", ".txn-"]
    clean_stale(target.parent)  # what the next import (or write there) does first
    assert snapshot(target, "transaction") == new
    assert leftovers(target.parent) == []


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("kind", [*FILE_KINDS, "folder"])
def test_a_full_disk_halfway_keeps_the_previous_output(kind, tmp_path):
    target = tmp_path / "out" / TARGETS[kind]
    write(kind, target, 1)
    previous = snapshot(target, kind)
    with pytest.raises(OSError) as err:
        write(kind, target, 2, disk_full)
    assert err.value.errno == errno.ENOSPC
    assert snapshot(target, kind) == previous
    assert leftovers(target.parent) == []
    write(kind, target, 2)
    assert snapshot(target, kind) == reference(kind, tmp_path, 2)


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_a_full_disk_at_fsync_keeps_the_previous_output(kind, tmp_path, monkeypatch):
    # file systems that allocate late (NFS, thin volumes) report ENOSPC at fsync
    target = tmp_path / "out" / TARGETS[kind]
    write(kind, target, 1)
    previous = snapshot(target, kind)
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError) as err:
        write(kind, target, 2)
    monkeypatch.undo()
    assert err.value.errno == errno.ENOSPC
    assert snapshot(target, kind) == previous
    assert leftovers(target.parent) == []
    write(kind, target, 2)
    assert snapshot(target, kind) == reference(kind, tmp_path, 2)


def test_a_full_disk_inside_a_commit_of_two_files_changes_neither(tmp_path):
    import pandas as pd

    table, record = tmp_path / "verdicts.parquet", tmp_path / "verdicts.json"
    write_parquet(table, pd.DataFrame({"clip": ["a"]}))
    write_json(record, {"version": 1})
    before = table.read_bytes(), record.read_bytes()
    full = re.escape(os.strerror(errno.ENOSPC))
    with pytest.raises(OSError, match=full), atomic_files(table, record) as (table_tmp, _):
        write_parquet(table_tmp, pd.DataFrame({"clip": ["a", "b"]}))
        disk_full()
    assert (table.read_bytes(), record.read_bytes()) == before
    assert leftovers(tmp_path) == []


# rule a waits before it writes: a job whose output exists when the second run starts makes
# that run fail earlier, on the incomplete file (IncompleteFilesException), also changing nothing
SNAKEFILE = """
rule all:
    input: "out/b.txt"

rule a:
    output: "out/a.txt"
    shell: "touch started; while [ ! -e release ]; do sleep 0.05; done; echo a > {output}"

rule b:
    input: "out/a.txt"
    output: "out/b.txt"
    shell: "cat {input} > {output}; echo b >> {output}"
"""


def files_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and ".snakemake" not in p.parts}  # fmt: skip


def test_a_second_snakemake_on_a_working_folder_fails_and_changes_nothing(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "earlier.txt").write_text("an output of an earlier run\n")
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--snakefile", "Snakefile"]
    first = subprocess.Popen(command, cwd=tmp_path, env=ENV, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "started").exists():
            assert first.poll() is None, first.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the first run never started its job"
            time.sleep(0.05)
        before = files_of(tmp_path)
        second = subprocess.run(command, cwd=tmp_path, env=ENV, text=True, capture_output=True,
                                timeout=120, check=False)  # fmt: skip
        assert second.returncode != 0
        assert "Error: Directory cannot be locked." in second.stdout + second.stderr
        assert files_of(tmp_path) == before
    finally:
        (tmp_path / "release").touch()
        out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out[-3000:]
    assert (tmp_path / "out" / "b.txt").read_text() == "a\nb\n"
    assert (tmp_path / "out" / "earlier.txt").read_text() == "an output of an earlier run\n"


def _checkpoint(path: Path, epoch: int, broken: str = "") -> Path:
    """An ultralytics-like checkpoint; ``broken``: ``half`` (a kill mid-write) or ``empty``."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epoch, "model": None, "optimizer": {"lr": 0.01},
                "ema": torch.zeros(20_000)}, path)  # fmt: skip
    if broken:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if broken == "half" else b"")
    return path


@pytest.mark.parametrize("broken", ["half", "empty"])
def test_resume_falls_back_to_the_copy_when_last_pt_is_cut_short(tmp_path, broken):
    from mosaicflow.yolo.fit import resume_point

    last = _checkpoint(tmp_path / "run" / "weights" / "last.pt", 5, broken)
    backup = _checkpoint(tmp_path / "resume.pt", 4)
    assert resume_point(last, backup) == (backup, 4)


def test_resume_takes_last_pt_when_its_copy_is_cut_short(tmp_path):
    from mosaicflow.yolo.fit import resume_point

    last = _checkpoint(tmp_path / "run" / "weights" / "last.pt", 5)
    backup = _checkpoint(tmp_path / "resume.pt", 4, "half")
    assert resume_point(last, backup) == (last, 5)
    assert resume_point(last, tmp_path / "missing.pt") == (last, 5)


def test_resume_starts_afresh_when_both_checkpoints_are_broken(tmp_path, caplog):
    from mosaicflow.yolo.fit import resume_point

    last = _checkpoint(tmp_path / "run" / "weights" / "last.pt", 5, "half")
    backup = _checkpoint(tmp_path / "resume.pt", 4, "empty")
    assert resume_point(last, backup) is None
    assert "no checkpoint to resume from (last.pt, resume.pt); training starts afresh" in (
        caplog.text
    )
    assert resume_point(tmp_path / "none.pt", tmp_path / "neither.pt") is None
