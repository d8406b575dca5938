"""A killed restoration training resumes from its last checkpoint (tiny config).

Snakemake and the stage-1 job are killed hard (SIGKILL) once the first checkpoint is on disk;
the rerun must continue from that iteration (weights, optimizer, schedule and RNG state are in
``last.pt``; the library test proves the resumed weights equal an uninterrupted run's).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, kill_at_first_checkpoint, planned_jobs, run_snakemake

pytestmark = pytest.mark.workflow

TINY = REPO / "config" / "test-tiny.yaml"
ITERATIONS = 40
OVERLAY = {
    "restoration": {"stage1": {"iterations": ITERATIONS, "checkpoint_every": 10, "val_every": 20}}
}
TARGET = "results/models/restoration/stage1.pth"
CHECKPOINTS = "results/restoration/_work/stage1-*/last.pt"
METRICS = "results/metrics/restoration_stage1.json"


def copy_tiny_run(tiny_run: Path, work: Path) -> None:
    """The tiny run's results and Snakemake metadata, without training scratch folders (never
    rewritten in place: a plain copy)."""
    skip = shutil.ignore_patterns("_work")
    shutil.copytree(tiny_run / "results", work / "results", ignore=skip)
    shutil.copytree(tiny_run / ".snakemake" / "metadata", work / ".snakemake" / "metadata")


def test_killed_restoration_training_resumes(tiny_run: Path, tmp_path: Path):
    overlay = tmp_path / "resume.yaml"
    overlay.write_text(yaml.safe_dump(OVERLAY))
    configs = [TINY, overlay]
    # the clips are the tiny run's: only stage 1 (its iterations changed) runs again
    copy_tiny_run(tiny_run, tmp_path)
    plan = planned_jobs(run_snakemake(tmp_path, "-n", "--", TARGET, configfiles=configs).stdout)
    assert set(plan) == {"train_restoration_stage1"}, plan

    kill_at_first_checkpoint(tmp_path, configs, TARGET, CHECKPOINTS)
    assert not (tmp_path / TARGET).exists()

    run_snakemake(tmp_path, "--unlock", configfiles=configs)
    run_snakemake(tmp_path, "--rerun-incomplete", "--", TARGET, configfiles=configs)
    record = json.loads((tmp_path / METRICS).read_text())
    assert record["iterations"] == ITERATIONS
    assert 0 < record["resumed_from"] < ITERATIONS  # continued, did not start over
    assert record["resumed_from"] % 10 == 0
    train_log = tmp_path / "results" / "logs" / "train_restoration_stage1" / "all.log"
    assert "resuming" in train_log.read_text()
