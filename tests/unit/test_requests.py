"""The cluster requests the rules carry: growing with the attempt up to a cap, the same stretch
for a resumable training, the GPU jobs' own partition."""

from __future__ import annotations

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


def test_gpu_jobs_go_to_the_gpu_partition_else_the_common_one(monkeypatch):
    monkeypatch.delenv(requests.GPU_PARTITION_VAR, raising=False)
    monkeypatch.delenv(requests.PARTITION_VAR, raising=False)
    assert requests.gpu_partition(None) == ""
    monkeypatch.setenv(requests.PARTITION_VAR, "batch")
    assert requests.gpu_partition(None) == "batch"
    monkeypatch.setenv(requests.GPU_PARTITION_VAR, "a100")
    assert requests.gpu_partition(None) == "a100"


def test_trainings_retry_on_a_cluster_only():
    assert requests.training_retries(local=False) == requests.TRAINING_RETRIES
    assert requests.training_retries(local=True) is None
