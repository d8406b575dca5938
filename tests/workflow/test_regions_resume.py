"""An interrupted training job resumes from last.pt instead of starting over (tiny config).

The job is killed hard (SIGKILL to Snakemake and its job, as a power cut or an OOM kill would)
after its first epoch; the rerun must continue the same run from the saved epoch, with one row
per epoch in ``results.csv`` even when the kill fell between an epoch's row and its checkpoint.
"""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from tests.helpers import REPO, kill_at_first_checkpoint, run_snakemake

pytestmark = pytest.mark.workflow

TINY = REPO / "config" / "test-tiny.yaml"
#: Small, fixed-length training (no time budget) so the test takes seconds per epoch.
OVERLAY = {
    "regions": {"imgsz": 64, "batch": 4, "epochs": 10, "time_minutes": 0, "prelabel_frames": 2},
    "watermark": {"imgsz": 64, "batch": 4, "epochs": 2, "time_minutes": 0},
}
TARGET = "results/models/region_seg/train.json"
CHECKPOINTS = "results/region_seg/_work/*/run/weights/last.pt"


def saved_epochs(run_dir):
    """Epochs done in the checkpoint a resume starts from (last.pt, else its atomic copy)."""
    import torch

    for path in (run_dir / "weights" / "last.pt", run_dir.parent / "resume.pt"):
        try:
            return int(torch.load(path, map_location="cpu", weights_only=False)["epoch"]) + 1
        except Exception:  # missing, or cut short by the kill
            continue
    raise AssertionError(f"no loadable checkpoint in {run_dir}")


def test_killed_training_resumes_from_last_checkpoint(tmp_path):
    overlay = tmp_path / "resume.yaml"
    overlay.write_text(yaml.safe_dump(OVERLAY))
    configs = [TINY, overlay]
    run_snakemake(tmp_path, "--", "results/regions/dataset", configfiles=configs)

    checkpoint = kill_at_first_checkpoint(tmp_path, configs, TARGET, CHECKPOINTS)
    assert not (tmp_path / TARGET).exists()
    (run_dir,) = [p.parent.parent for p in tmp_path.glob(CHECKPOINTS)]
    assert run_dir == checkpoint.parent.parent
    epochs_saved = saved_epochs(run_dir)
    results = run_dir / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    assert 0 < epochs_saved < OVERLAY["regions"]["epochs"]
    assert len(lines) - 1 in (epochs_saved, epochs_saved + 1)
    if len(lines) - 1 == epochs_saved:
        # ultralytics writes an epoch's row before its checkpoint: make the kill land in between
        epoch, rest = lines[-1].split(",", 1)
        results.write_text("".join(lines) + f"{int(float(epoch)) + 1},{rest}")

    run_snakemake(tmp_path, "--unlock", configfiles=configs)
    run_snakemake(tmp_path, "--rerun-incomplete", "--", TARGET, configfiles=configs)
    record = json.loads((tmp_path / TARGET).read_text())
    training = record["training"]
    assert training["source"] == "resumed"
    assert training["resumed_at_epoch"] == epochs_saved  # continued after the saved epoch
    rows = list(csv.DictReader((run_dir / "results.csv").open()))
    assert len(rows) == OVERLAY["regions"]["epochs"]  # one row per epoch, none repeated
    assert [int(float(r["epoch"])) for r in rows] == list(range(1, len(rows) + 1))
    train_log = (tmp_path / "results" / "logs" / "train_model" / "region_seg.log").read_text()
    assert "resuming" in train_log
    assert "results.csv: dropped 1 row(s)" in train_log
