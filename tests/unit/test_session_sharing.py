"""The suite's shared session fixtures (the demo run, the tiny runs) are built once, however
many pytest-xdist workers ask for them, and a failed build is reported, not repeated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, once_per_session

WORKER = """
import sys, time
from pathlib import Path
from tests.helpers import once_per_session

folder, name = Path(sys.argv[1]), sys.argv[2]
(folder / f"arrived-{name}").touch()

def build():
    with (folder / "builds.txt").open("a") as log:
        log.write(name + "\\n")
    # both workers have asked before this build ends: without the lock the other would build too
    deadline = time.monotonic() + 60
    while len(list(folder.glob("arrived-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    (folder / "built").write_text("yes")

once_per_session(folder, "thing", build)
assert (folder / "built").read_text() == "yes"
"""


def test_two_workers_build_once_and_both_see_the_result(tmp_path: Path):
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), name], cwd=REPO)
        for name in ("gw0", "gw1")
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    assert len((tmp_path / "builds.txt").read_text().split()) == 1


def test_a_failed_build_fails_the_next_asker_without_running_again(tmp_path: Path):
    def broken() -> None:
        raise RuntimeError("snakemake failed: rule render_world_video")

    with pytest.raises(RuntimeError, match=r"snakemake failed: rule render_world_video"):
        once_per_session(tmp_path, "thing", broken)
    calls: list[str] = []
    with pytest.raises(pytest.fail.Exception, match="render_world_video"):
        once_per_session(tmp_path, "thing", lambda: calls.append("built"))
    assert calls == []
