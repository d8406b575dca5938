"""Suite-wide set-up: the offline guard, offline ultralytics, and loud reports of skipped tests."""

from __future__ import annotations

import os
import shutil
import sys
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


#: pytest-xdist groups (``make test`` runs ``pytest -n 2``): the files whose tests read one
#: session-scoped run go to one worker, so each run is made once. xdist's own ``loadgroup`` does
#: not group with this pytest (it renames ``item._nodeid``, which pytest 9 no longer reads), so
#: the scheduler below groups by file; collection fails when a test reading a run lies elsewhere.
XDIST_GROUPS = {
    "demo": (
        "tests/workflow/test_demo_labels.py",
        "tests/workflow/test_detector_quality.py",
        "tests/workflow/test_evaluation_quality.py",
        "tests/workflow/test_regions_quality.py",
        "tests/workflow/test_restoration_quality.py",
        "tests/workflow/test_world_reruns.py",
    ),
    # the tiny runs, and the SLURM tests' private cluster (one per machine) that compares with them
    "tiny": ("tests/cluster/test_slurm.py", "tests/workflow/test_tiny.py"),
}


def xdist_group_of(nodeid: str) -> str | None:
    """The group of a test id by its file, or None (any worker)."""
    path = nodeid.split("::", 1)[0]
    return next((name for name, files in XDIST_GROUPS.items() if path in files), None)


def _needed_group(item: pytest.Item) -> str | None:
    """The group a test must be in: it reads the demo run, or the tiny runs or the cluster."""
    fixtures = getattr(item, "fixturenames", ())
    if "demo" in item.keywords or "demo_results" in fixtures:
        return "demo"
    if "slurm" in item.keywords or "tiny_runs" in fixtures:
        return "tiny"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose system dependency is missing, with the reason; refuse a test that reads
    a shared run from a file outside its xdist group."""
    for item in items:
        for marker, reason in MISSING_SYSTEM_DEPS.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"SKIPPED LOUDLY: {reason}"))
        needed = _needed_group(item)
        if needed is not None and xdist_group_of(item.nodeid) != needed:
            raise pytest.UsageError(
                f"{item.nodeid} reads the {needed} run: add its file to XDIST_GROUPS[{needed!r}] "
                "in tests/conftest.py (else two xdist workers would make the run twice)"
            )


def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """Load scheduling that keeps each :data:`XDIST_GROUPS` group on one worker."""
    from xdist.scheduler import LoadScopeScheduling

    class FileGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid) or nodeid

    return FileGroupScheduling(config, log)


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
    only reruns what changed since the last ``make test``.
    """
    from tests.helpers import run_snakemake

    workdir = Path(os.environ.get("MOSAICFLOW_DEMO_DIR", REPO / ".test-work" / "demo"))
    workdir.mkdir(parents=True, exist_ok=True)
    run_snakemake(workdir, timeout=3600)  # the whole DAG: ~35 min on a 2-core CPU
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
