"""The cluster requests the rules carry: growing with the attempt up to a cap, the same stretch
for a resumable training, the GPU jobs' own partition."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mosaicflow.plan import requests


def test_a_request_grows_with_the_attempt_up_to_the_cap():
    memory = requests.growing(8000)
    assert [memory(None, attempt) for attempt in (1, 2, 3, 4, 11)] == [
        8000, 16000, 24000, 24000, 24000
    ]  # fmt: skip
    with pytest.raises(ValueError, match="positive"):
        requests.growing(0)


def test_a_training_asks_the_same_stretch_every_attempt(monkeypatch):
    monkeypatch.delenv(requests.TRAINING_MINUTES_VAR, raising=False)
    assert {requests.stretch(None, attempt) for attempt in (1, 5, 11)} == {1440}
    monkeypatch.setenv(requests.TRAINING_MINUTES_VAR, " 2880 ")
    assert requests.stretch(None, 3) == 2880
    for bad in ("0", "-5", "2h", "1.5"):
        with pytest.raises(ValueError, match=rf"MOSAICFLOW_SLURM_TRAINING_MINUTES='{bad}'"):
            requests.training_minutes({requests.TRAINING_MINUTES_VAR: bad})


def test_gpu_jobs_go_to_the_gpu_partition_else_the_common_one():
    assert requests.partition(True, {}) == requests.partition(False, {}) == ""
    common = {requests.PARTITION_VAR: "batch"}
    assert requests.partition(True, common) == requests.partition(False, common) == "batch"
    both = {**common, requests.GPU_PARTITION_VAR: "a100"}
    assert (requests.partition(True, both), requests.partition(False, both)) == ("a100", "batch")


def test_the_checkpointed_trainings_are_resubmitted_on_a_cluster_only():
    rules = {name: SimpleNamespace(restart_times=None) for name in
             ("train_model", "train_restoration_stage1", "train_restoration_stage2",
              "extract_frames")}  # fmt: skip
    assert requests.set_training_retries(rules, local=True) == 0
    assert {rule.restart_times for rule in rules.values()} == {None}
    assert requests.set_training_retries(rules, local=False) == 3
    assert rules["train_model"].restart_times == requests.TRAINING_RETRIES
    assert rules["extract_frames"].restart_times is None
