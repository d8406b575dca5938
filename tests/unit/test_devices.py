"""The one device resolver: the config's names for torch and for ultralytics."""

from __future__ import annotations

import pytest
import torch

from mosaicflow.devices import DeviceError, torch_device, ultralytics_device


@pytest.fixture
def with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.fixture
def without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_the_cpu_without_cuda(without_cuda):
    assert torch_device("auto") == torch.device("cpu")
    assert ultralytics_device("auto") == "cpu"
    assert torch_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_is_the_first_cuda_device_with_cuda(with_cuda):
    assert torch_device("auto") == torch.device("cuda:0")
    assert ultralytics_device("auto") == "0"


@pytest.mark.parametrize(("name", "torch_name", "yolo"), [
    ("cuda", "cuda:0", "0"), ("cuda:0", "cuda:0", "0"), ("cuda:3", "cuda:3", "3"),
    ("cpu", "cpu", "cpu"),
])  # fmt: skip
def test_names_map_alike_for_torch_and_ultralytics(with_cuda, name, torch_name, yolo):
    assert torch_device(name) == torch.device(torch_name)
    assert ultralytics_device(name) == yolo


def test_cuda_without_cuda_is_refused_by_name(without_cuda):
    for resolve in (torch_device, ultralytics_device):
        with pytest.raises(DeviceError, match=r"'cuda:1' requested but CUDA is not available"):
            resolve("cuda:1")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "mps", "0", ""])
def test_unknown_names_are_refused(with_cuda, name):
    with pytest.raises(DeviceError, match="unknown device"):
        torch_device(name)
    assert issubclass(DeviceError, ValueError)
