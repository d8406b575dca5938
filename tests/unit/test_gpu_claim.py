"""The GPU slot of model jobs: claimed where a GPU runs the model, not where the CPU does."""

from __future__ import annotations

import pytest

from mosaicflow.plan.gpu import cuda_visible, gpu_claim


def _never() -> bool:
    raise AssertionError("CUDA was looked for where the answer cannot depend on it")


@pytest.mark.parametrize(
    ("device", "local", "cuda", "slots"),
    [
        ("auto", True, False, 0),  # a laptop or CI: the models run on the CPU
        ("auto", True, True, 1),  # one GPU box
        ("cuda", True, False, 1),  # asked for: the job itself says CUDA is missing
        ("cuda:1", True, True, 1),
    ],
)
def test_claim_follows_where_the_model_runs(device, local, cuda, slots):
    assert gpu_claim(device, local, cuda=lambda: cuda) == slots


def test_cpu_device_never_claims_and_never_looks():
    assert gpu_claim("cpu", True, cuda=_never) == 0
    assert gpu_claim("cpu", False, cuda=_never) == 0


@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:0"])
def test_cluster_jobs_claim_whatever_the_submitting_host_has(device):
    assert gpu_claim(device, False, cuda=_never) == 1


def test_cuda_visible_reads_the_driver_list(tmp_path):
    gpus = tmp_path / "gpus"
    assert not cuda_visible({}, gpus)  # no driver
    gpus.mkdir()
    assert not cuda_visible({}, gpus)  # a driver without GPUs
    (gpus / "0000:01:00.0").mkdir()
    assert cuda_visible({}, gpus)
    assert cuda_visible({"CUDA_VISIBLE_DEVICES": "0"}, gpus)


@pytest.mark.parametrize("hidden", ["", "-1", " "])
def test_cuda_visible_devices_can_hide_every_gpu(tmp_path, hidden):
    (tmp_path / "gpus" / "0000:01:00.0").mkdir(parents=True)
    assert not cuda_visible({"CUDA_VISIBLE_DEVICES": hidden}, tmp_path / "gpus")
