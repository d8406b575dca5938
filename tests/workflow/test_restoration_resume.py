"""A killed restoration training resumes from its last checkpoint (tiny config).

Snakemake and the stage-1 job are killed hard (SIGKILL) once the first checkpoint is on disk;
the rerun must continue from that iteration (weights, optimizer, schedule and RNG state are in
``last.pt``; the library test proves the resumed weights equal an uninterrupted run's).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, kill_at_first_checkpoint, run_snakemake

pytestmark = pytest.mark.workflow

TINY = REPO / "config" / "test-tiny.yaml"
ITERATIONS = 40
OVERLAY = {
    "restoration": {"stage1": {"iterations": ITERATIONS, "checkpoint_every": 10, "val_every": 20}}
}
TARGET = "results/models/restoration/stage1.pth"
CHECKPOINTS = "results/restoration/_work/stage1-*/last.pt"
METRICS = "results/metrics/restoration_stage1.json"


def test_killed_restoration_training_resumes(tmp_path: Path):
    overlay = tmp_path / "resume.yaml"
    overlay.write_text(yaml.safe_dump(OVERLAY))
    configs = [TINY, overlay]
    run_snakemake(tmp_path, "--", "results/restoration_dataset/index.parquet", configfiles=configs)

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
