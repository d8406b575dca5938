"""Editing a package module reruns exactly the jobs whose rule scripts reach it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mosaicflow.workflow import paths
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
