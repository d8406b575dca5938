"""Suite-wide set-up: the offline guard, offline ultralytics, and loud reports of skipped tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OFFLINE_DIR = REPO / "tests" / "offline"
SHARED = REPO.parent / "shared"

# Every child process (snakemake, rule scripts) imports the guard via sitecustomize; this process
# imports it directly.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(OFFLINE_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
sys.path.insert(0, str(OFFLINE_DIR))
import sitecustomize  # noqa: E402,F401  (installs the guard in this process)

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

MISSING_SYSTEM_DEPS: dict[str, str] = {}
if shutil.which("ffmpeg") is None:
    MISSING_SYSTEM_DEPS["ffmpeg"] = (
        "Debian's ffmpeg is not installed (run `make test-deps` as root)"
    )
if shutil.which("slurmctld") is None:
    MISSING_SYSTEM_DEPS["slurm"] = "SLURM daemons are not installed (run `make test-deps` as root)"


#: The demo run (``demo_results``): the whole DAG, ~25-35 min on a 2-core CPU.
DEMO_TIMEOUT_S = 3600
#: The demo run started in the background at collection: {"proc", "log", "started"}.
BACKGROUND_DEMO: dict = {}


def demo_workdir() -> Path:
    """The demo's work folder: ``.test-work/demo``, or ``$MOSAICFLOW_DEMO_DIR``."""
    return Path(os.environ.get("MOSAICFLOW_DEMO_DIR", REPO / ".test-work" / "demo"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose system dependency is missing, with the reason; start the demo run in
    the background when a collected test reads it, so the other tests run meanwhile (the rest
    of the suite leaves one of two cores idle much of the time: single-threaded unit tests, the
    SLURM test's polling)."""
    for item in items:
        for marker, reason in MISSING_SYSTEM_DEPS.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"SKIPPED LOUDLY: {reason}"))
    wanted = any("demo_results" in getattr(item, "fixturenames", ()) for item in items)
    if wanted and not config.option.collectonly and "PYTEST_XDIST_WORKER" not in os.environ:
        _start_background_demo()


def _demo_cmd(workdir: Path) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--cores", "2", "--resources", "gpu=1",
    ]  # fmt: skip


def _start_background_demo() -> None:
    workdir = demo_workdir()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "demo-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            _demo_cmd(workdir), cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    BACKGROUND_DEMO.update(proc=proc, log=log, started=time.monotonic())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop a background demo run the session no longer waits for (-x, Ctrl-C)."""
    proc = BACKGROUND_DEMO.get("proc")
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say at the end which system dependencies were missing and what that skipped."""
    skipped = terminalreporter.stats.get("skipped", [])
    if MISSING_SYSTEM_DEPS or skipped:
        terminalreporter.section("skipped tests", sep="!", bold=True, yellow=True)
        for name, reason in MISSING_SYSTEM_DEPS.items():
            terminalreporter.write_line(f"missing system dependency {name}: {reason}")
        terminalreporter.write_line(
            f"{len(skipped)} test(s) skipped; reasons are listed above (-ra)"
        )


@pytest.fixture(scope="session")
def demo_results() -> Path:
    """Run the default config (the demo world) once per test session; return its work folder.

    Every quality test reads these results instead of training its own models. The folder
    (``.test-work/demo``, or ``$MOSAICFLOW_DEMO_DIR``) persists between sessions, so Snakemake
    only reruns what changed since the last ``make test``. The run started in the background
    at collection (its output in ``demo-run.log`` there) is awaited; without one it runs now.
    """
    from tests.helpers import run_snakemake

    workdir = demo_workdir()
    proc = BACKGROUND_DEMO.get("proc")
    if proc is None:
        workdir.mkdir(parents=True, exist_ok=True)
        run_snakemake(workdir, timeout=DEMO_TIMEOUT_S)
        return workdir / "results"
    left = DEMO_TIMEOUT_S - (time.monotonic() - BACKGROUND_DEMO["started"])
    try:
        returncode = proc.wait(timeout=max(left, 1))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        returncode = f"killed after {DEMO_TIMEOUT_S} s"
    if returncode != 0:
        tail = BACKGROUND_DEMO["log"].read_text(errors="replace")[-12000:]
        raise AssertionError(
            f"demo run failed ({returncode}): {' '.join(_demo_cmd(workdir))}\n{tail}"
        )
    return workdir / "results"


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two runs of config/test-tiny.yaml in fresh folders, shared by the plumbing tests.

    The tiny tests compare them byte for byte; the SLURM test compares its cluster run with the
    first. Each folder keeps its Snakemake output in ``run.log``.
    """
    from tests.helpers import run_snakemake

    runs = []
    for name in ("first", "second"):
        workdir = tmp_path_factory.mktemp(f"tiny-{name}")
        proc = run_snakemake(workdir, configfiles=[REPO / "config" / "test-tiny.yaml"])
        (workdir / "run.log").write_text(proc.stdout + proc.stderr)
        runs.append(workdir)
    return runs


@pytest.fixture(scope="session")
def ultralytics_offline(tmp_path_factory: pytest.TempPathFactory):
    """Import ultralytics offline: its own config dir with local fonts, never a download."""
    import matplotlib

    cfg = tmp_path_factory.mktemp("yolo_config")
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        shutil.copyfile(font, cfg / name)
    os.environ["YOLO_CONFIG_DIR"] = str(cfg)
    os.environ["YOLO_OFFLINE"] = "true"
    import ultralytics

    return ultralytics
