"""Suite-wide set-up: the offline guard, offline ultralytics, and loud reports of skipped tests."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests import demo_run

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose system dependency is missing, with the reason; move the tests that read
    the demo run to the end, so the others run while it works."""
    for item in items:
        for marker, reason in MISSING_SYSTEM_DEPS.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"SKIPPED LOUDLY: {reason}"))
    items.sort(key=reads_demo)  # stable: the order within both parts is kept


def reads_demo(item: pytest.Item) -> bool:
    """Whether a test reads the one demo run."""
    return demo_run.FIXTURE in getattr(item, "fixturenames", ())


DEMO_RUN = pytest.StashKey[demo_run.DemoRun]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the demo run in the background when a selected test reads it."""
    config = session.config
    if config.option.collectonly or demo_run.reuse_requested():
        return
    if any(reads_demo(item) for item in session.items):
        config.stash[DEMO_RUN] = demo_run.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop a demo run that is still working when the session ends early."""
    run = session.config.stash.get(DEMO_RUN, None)
    if run is not None:
        run.stop()


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
def demo_results(request: pytest.FixtureRequest) -> Path:
    """The ``results`` folder of the default config's run (the demo world), once per session.

    Every quality test reads these results instead of training its own models. The run starts
    in the background when collection ends (tests/demo_run.py) and this fixture waits for it.
    Its folder (``.test-work/demo``, or ``$MOSAICFLOW_DEMO_DIR``) persists between sessions, so
    Snakemake only reruns what changed since the last ``make test``; its log is ``run.log``
    there. ``MOSAICFLOW_DEMO_REUSE=1`` reads the folder's results as they are, without running
    Snakemake (to iterate on the quality tests against a finished demo run).
    """
    workdir = demo_run.demo_workdir()
    if demo_run.reuse_requested():
        if not (workdir / "results" / "metrics.json").is_file():
            pytest.fail(f"MOSAICFLOW_DEMO_REUSE=1 but {workdir} holds no finished demo run")
        return workdir / "results"
    run = request.config.stash.get(DEMO_RUN, None)
    if run is None:
        run = request.config.stash[DEMO_RUN] = demo_run.start(workdir)
    return run.wait()


def _tiny(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """One run of config/test-tiny.yaml in a fresh folder (Snakemake's output in ``run.log``)."""
    from tests.helpers import run_snakemake

    workdir = tmp_path_factory.mktemp(f"tiny-{name}")
    proc = run_snakemake(workdir, configfiles=[REPO / "config" / "test-tiny.yaml"])
    (workdir / "run.log").write_text(proc.stdout + proc.stderr)
    return workdir


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of config/test-tiny.yaml, shared by the plumbing tests and the SLURM test (which
    compares its cluster run with it byte for byte)."""
    return _tiny(tmp_path_factory, "first")


@pytest.fixture(scope="session")
def tiny_rerun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second local run of config/test-tiny.yaml, for the byte-for-byte rerun check where
    SLURM is not installed (where it is, the SLURM run is the second run)."""
    return _tiny(tmp_path_factory, "second")


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
