"""The review imports exclude each other: a second one fails at once, naming the first, and
writes nothing; a killed holder leaves no lock behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mosaicflow.curate.review_export import CHOICE_NAME, clip_sha256
from mosaicflow.curate.review_import import import_review
from mosaicflow.io import LockHeldError

from .conftest import Dataset

HOLD = """import sys
from mosaicflow.io import folder_lock
with folder_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()
"""


def hold(folder: Path, purpose: str) -> subprocess.Popen:
    """A process holding ``folder``'s lock until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), purpose], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_second_review_import_fails_at_once_and_writes_nothing(dataset: Dataset, tmp_path):
    review = tmp_path / "review"
    clip, path = dataset.index[["clip", "clip_path"]].iloc[0]
    export = tmp_path / "export.json"
    rows = [{"clip": clip, "clip_sha256": clip_sha256(dataset.root / path), CHOICE_NAME: "drop"}]
    export.write_text(json.dumps(rows))
    holder = hold(review, "mosaicflow review import")
    try:
        lock = review / ".mosaicflow.lock"
        held_by = f"locked by mosaicflow review import (pid {holder.pid} on "
        with pytest.raises(LockHeldError, match=f"^{re.escape(f'{lock}: {held_by}')}"):
            import_review([export], review, dataset.root)
        assert sorted(p.name for p in review.iterdir()) == [lock.name, f"{lock.name}.json"]
    finally:
        holder.kill()  # the kernel releases a dead holder's lock
        holder.wait()
    result = import_review([export], review, dataset.root)
    assert result.changed and result.version == 1
    assert sorted(p.name for p in review.iterdir()) == [lock.name, "verdicts.json",
                                                        "verdicts.parquet"]  # fmt: skip


def test_import_labels_shares_the_lock_and_the_command_names_its_holder(tmp_path, capsys):
    from mosaicflow.cli import main

    results = tmp_path / "results"
    holder = hold(results / "review", "mosaicflow review import")
    try:
        command = ["review", "import-labels", str(tmp_path / "edited"), "--results", str(results)]
        assert main(command) == 2
    finally:
        holder.kill()
        holder.wait()
    lock = results / "review" / ".mosaicflow.lock"
    error = capsys.readouterr().err
    assert f"{lock}: locked by mosaicflow review import (pid {holder.pid} on " in error
    assert not (results / "review" / "label_overrides").exists()
    assert main(command) == 2  # not locked now: the missing export is the error
    assert "export.json: not found" in capsys.readouterr().err
