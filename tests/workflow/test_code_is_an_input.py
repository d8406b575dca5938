"""Editing a package module reruns exactly the jobs whose rules use it."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.helpers import OFFLINE_DIR, REPO, planned_jobs, run_snakemake, write_video

pytestmark = pytest.mark.workflow

COPIED = ["Snakefile", "workflow", "config", "profiles", "envs", "src"]


def test_module_edit_reruns_dependent_jobs_only(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / name)
    for seed in range(2):
        write_video(tmp_path / "videos" / f"v{seed}.mp4", frames=12, seed=seed)
    cfg = tmp_path / "source.yaml"
    cfg.write_text(f"source:\n  kind: videos\n  videos: {tmp_path / 'videos'}\n")
    env = {"PYTHONPATH": os.pathsep.join([str(repo / "src"), str(OFFLINE_DIR)])}
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
