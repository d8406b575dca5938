"""Suite-wide set-up: the offline guard, offline ultralytics, and loud reports of skipped tests."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OFFLINE_DIR = REPO / "tests" / "offline"
#: Wall-clock limit of the one demo run (seconds).
DEMO_TIMEOUT_S = 3900
SHARED = REPO.parent / "shared"

# Every child process (snakemake, rule scripts) imports the guard via sitecustomize; this process
# imports it directly.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(OFFLINE_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
sys.path.insert(0, str(OFFLINE_DIR))
import sitecustomize  # noqa: E402,F401  (installs the guard in this process)

os.environ.setdefault("YOLO_OFFLINE", "true")
# The code hashes' imports cache of every Snakemake the suite runs: in the checkout, shared by
# the pytest workers, not in the user's home.
os.environ.setdefault("MOSAICFLOW_CACHE_DIR", str(REPO / ".test-work" / "cache"))
os.environ.setdefault("MPLBACKEND", "Agg")

MISSING_SYSTEM_DEPS: dict[str, str] = {}
if shutil.which("ffmpeg") is None:
    MISSING_SYSTEM_DEPS["ffmpeg"] = (
        "Debian's ffmpeg is not installed (run `make test-deps` as root)"
    )
if shutil.which("slurmctld") is None:
    MISSING_SYSTEM_DEPS["slurm"] = "SLURM daemons are not installed (run `make test-deps` as root)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose system dependency is missing, with the reason."""
    for item in items:
        for marker, reason in MISSING_SYSTEM_DEPS.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"SKIPPED LOUDLY: {reason}"))


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
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the default config (the demo world) once per test session; return its work folder.

    Every quality test reads these results instead of training its own models. The folder
    (``.test-work/demo``, or ``$MOSAICFLOW_DEMO_DIR``) persists between sessions, so Snakemake
    only reruns what changed since the last ``make test``. Under pytest-xdist one worker runs
    Snakemake and the others wait for it. ``MOSAICFLOW_DEMO_REUSE=1`` reads the folder's results
    as they are, without running Snakemake (``make test`` runs the demo in a session of its own
    first; also to iterate on the quality tests against a finished demo run).
    """
    from tests.helpers import once_per_session, run_snakemake, session_folder

    workdir = Path(os.environ.get("MOSAICFLOW_DEMO_DIR", REPO / ".test-work" / "demo"))
    if os.environ.get("MOSAICFLOW_DEMO_REUSE") == "1":
        if not (workdir / "results" / "metrics.json").is_file():
            pytest.fail(f"MOSAICFLOW_DEMO_REUSE=1 but {workdir} holds no finished demo run")
        return workdir / "results"
    workdir.mkdir(parents=True, exist_ok=True)
    # the whole DAG from scratch: 51 min on a 2-core Zen 1 EPYC (measured), about half that on
    # later EPYCs; the limit ends a hung run while CI's 90 minutes leave time to report it
    once_per_session(
        session_folder(tmp_path_factory),
        "demo-run",
        lambda: run_snakemake(workdir, timeout=DEMO_TIMEOUT_S),
    )
    return workdir / "results"


def _tiny(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """One run of config/test-tiny.yaml in a fresh folder (Snakemake's output in ``run.log``),
    made once per session and shared by its pytest-xdist workers."""
    from tests.helpers import once_per_session, run_snakemake, session_folder

    workdir = session_folder(tmp_path_factory) / f"tiny-{name}"

    def build() -> None:
        workdir.mkdir()
        proc = run_snakemake(workdir, configfiles=[REPO / "config" / "test-tiny.yaml"])
        (workdir / "run.log").write_text(proc.stdout + proc.stderr)

    once_per_session(workdir.parent, f"tiny-{name}", build)
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
