"""The suite's one demo run, started in the background as soon as collection ends.

The demo DAG trains every model and is most of the suite's time; most other tests never touch
it. :func:`start` launches it (Snakemake on the default config in ``.test-work/demo``, or
``$MOSAICFLOW_DEMO_DIR``) when the session has a test that reads it, the other tests run while
it works, and the ``demo_results`` fixture (tests/conftest.py) waits for it with
:meth:`DemoRun.wait`; the tests that read it run last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import REPO, snakemake_base_cmd

#: Wall-clock limit of the one demo run (seconds), counted from its start. The whole DAG from
#: scratch took 51 min alone on a 2-core Zen 1 EPYC; the rest of the suite runs beside it.
DEMO_TIMEOUT_S = 4500
#: The fixture that reads the demo run's results.
FIXTURE = "demo_results"


def demo_workdir() -> Path:
    """Where the demo run lives (kept between sessions, so Snakemake reruns only what changed)."""
    return Path(os.environ.get("MOSAICFLOW_DEMO_DIR", REPO / ".test-work" / "demo"))


def reuse_requested() -> bool:
    """``MOSAICFLOW_DEMO_REUSE=1``: read a finished demo run as it is, without Snakemake."""
    return os.environ.get("MOSAICFLOW_DEMO_REUSE") == "1"


@dataclass
class DemoRun:
    """A running (or finished) Snakemake process on the demo config, its output in ``log``."""

    workdir: Path
    process: subprocess.Popen[bytes]
    log: Path
    started: float

    def wait(self, timeout_s: float = DEMO_TIMEOUT_S) -> Path:
        """Block until the run ends; return its ``results`` folder.

        Raises:
            AssertionError: the run failed or took longer than ``timeout_s`` from its start
                (then it is killed), with the tail of its log.
        """
        remaining = max(1.0, self.started + timeout_s - time.monotonic())
        try:
            rc = self.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"the demo run took more than {timeout_s} s; killed\n{self.tail()}"
            ) from None
        if rc != 0:
            raise AssertionError(f"the demo run failed ({rc}), log {self.log}\n{self.tail()}")
        return self.workdir / "results"

    def stop(self) -> None:
        """Kill Snakemake and its jobs if they still run (a session that ends early)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def tail(self, chars: int = 12000) -> str:
        """The end of the run's log."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else ""


def start(workdir: Path | None = None) -> DemoRun:
    """Start Snakemake on the default config (the demo world) in ``workdir``, in the background
    and in its own process group; its stdout and stderr go to ``workdir/run.log``."""
    workdir = workdir or demo_workdir()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            snakemake_base_cmd(workdir),
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return DemoRun(workdir, process, log, time.monotonic())
