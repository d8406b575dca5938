"""Editing a package module reruns exactly the jobs whose rule scripts reach it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mosaicflow.plan import paths
from tests.helpers import OFFLINE_DIR, REPO, planned_jobs, run_snakemake, write_video

pytestmark = pytest.mark.workflow

COPIED = ["Snakefile", "workflow", "config", "profiles", "envs", "src", "resources"]


def copy_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the repository whose modules a test may edit, and the environment that makes
    Snakemake and the rule scripts import the copy's package."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / name)
    env = {"PYTHONPATH": os.pathsep.join([str(repo / "src"), str(OFFLINE_DIR)])}
    return repo, env


@contextlib.contextmanager
def edited(module: Path) -> Iterator[None]:
    """``module`` with a comment appended, restored afterwards."""
    text = module.read_text()
    module.write_text(text + "\n# edited\n")
    try:
        yield
    finally:
        module.write_text(text)


def test_module_edit_reruns_dependent_jobs_only(tmp_path):
    repo, env = copy_repo(tmp_path)
    for seed in range(2):
        write_video(tmp_path / "videos" / f"v{seed}.mp4", frames=12, seed=seed)
    cfg = tmp_path / "source.yaml"
    cfg.write_text(f"source:\n  kind: videos\n  videos: {tmp_path / 'videos'}\n")
    work = tmp_path / "work"
    work.mkdir()

    def dry_run():
        proc = run_snakemake(work, "-n", configfiles=[cfg], snakefile=repo / "Snakefile", env=env)
        return planned_jobs(proc.stdout)

    run_snakemake(work, configfiles=[cfg], snakefile=repo / "Snakefile", env=env)
    assert dry_run() == {}

    unrelated = repo / "src" / "mosaicflow" / "mosaic" / "__init__.py"
    unrelated.parent.mkdir(exist_ok=True)
    unrelated.write_text(
        unrelated.read_text() + "\n# edited\n" if unrelated.exists() else "# new\n"
    )
    assert dry_run() == {}

    decoder = repo / "src" / "mosaicflow" / "video" / "scenes.py"
    decoder.write_text(decoder.read_text() + "\n# edited\n")
    assert dry_run() == {"extract_frames": 2, "gather_rejected": 1, "all": 1}


def test_module_deep_in_a_scripts_imports_reruns_the_jobs_that_reach_it(tmp_path):
    # one demo-world test video of the tiny config: its render, frames, detection samples and
    # mosaicked test copy
    repo, env = copy_repo(tmp_path)
    package = repo / "src" / "mosaicflow"
    tiny = repo / "config" / "test-tiny.yaml"
    work = tmp_path / "work"
    work.mkdir()

    def snakemake(*args: str) -> str:
        return run_snakemake(
            work, *args, configfiles=[tiny], snakefile=repo / "Snakefile", env=env
        ).stdout

    name = "world-test-00"
    video = re.search(rf"detection_samples/({name}-[0-9a-f]+)\.json", snakemake("-n"))
    assert video, "no detection samples planned for the tiny world's test video"
    targets = [
        paths.detection_samples(video.group(1))["manifest"],
        paths.detection_testset_files(name)["video"],
    ]
    snakemake("--", *targets)

    def dry_run() -> dict[str, int]:
        return planned_jobs(snakemake("-n", "--", *targets))

    assert dry_run() == {}
    # ultralytics' offline set-up, four imports below both detection scripts, each inside a
    # function (detection.build -> detection.regions -> yolo.infer -> yolo.offline); the
    # world renderer and frame extraction do not reach it
    with edited(package / "yolo" / "offline.py"):
        assert dry_run() == {"build_detection_samples": 1, "build_detection_testset": 1}
    assert dry_run() == {}
    # a module of the same subpackage that only the test-set builder runs
    with edited(package / "datasets" / "detection" / "testset.py"):
        assert dry_run() == {"build_detection_testset": 1}
    # a module only other rules run
    with edited(package / "yolo" / "watermark.py"):
        assert dry_run() == {}


def fresh_clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """:func:`copy_repo` with every file just written, as a fresh clone leaves them."""
    repo, env = copy_repo(tmp_path)
    for path in repo.rglob("*"):
        os.utime(path)
    return repo, env


@pytest.mark.demo
def test_a_fresh_clone_and_a_moved_environment_replan_nothing(demo_results, tmp_path):
    # the demo run's folder, planned from another checkout (newer files, the restorer base at
    # another place) with the nudenet package found in another site folder
    import nudenet

    repo, env = fresh_clone(tmp_path)
    site = tmp_path / "site-packages"
    shutil.copytree(Path(nudenet.__file__).parent, site / "nudenet")
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    found = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('nudenet').origin)"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert found.startswith(str(site)), found

    def dry_run() -> dict[str, int]:
        proc = run_snakemake(demo_results.parent, "-n", snakefile=repo / "Snakefile", env=env)
        return planned_jobs(proc.stdout)

    assert dry_run() == {}
    # the base is named by its content: other bytes at the same place retrain from stage 1
    base = repo / "resources" / "restorer-base" / "generator.pth"
    base.write_bytes(base.read_bytes() + b"\0")
    planned = dry_run()
    assert planned.get("train_restoration_stage1") == 1 and "train_model" not in planned
