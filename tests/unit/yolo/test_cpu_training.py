"""CPU training speed-ups: precision choice, channels-last weights, bf16 autocast hooks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mosaicflow.yolo.cpu_training import (
    CpuTrainingSpeedups,
    cpu_flags,
    resolve_cpu_precision,
    to_float32,
)


def test_cpu_flags_read_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16 amx_tile\nbogomips\t: 1\n")
    assert cpu_flags(info) == {"fpu", "avx2", "amx_bf16", "amx_tile"}
    assert cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize(
    ("setting", "device", "flags", "expected"),
    [
        ("auto", "cpu", {"avx2", "amx_bf16"}, "bf16"),
        ("auto", "cpu", {"avx2", "avx512_bf16"}, "fp32"),  # no AMX: emulated, slower
        ("bf16", "cpu", set(), "bf16"),
        ("fp32", "cpu", {"amx_bf16"}, "fp32"),
        ("auto", "0", {"amx_bf16"}, "fp32"),  # CUDA: ultralytics' own AMP applies
        ("bf16", "0", {"amx_bf16"}, "fp32"),
    ],
)
def test_precision_follows_setting_device_and_cpu(setting, device, flags, expected):
    assert resolve_cpu_precision(setting, device, flags) == expected


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="cpu_precision"):
        resolve_cpu_precision("fp16", "cpu", set())


def test_to_float32_casts_nested_floating_tensors_only():
    out = to_float32(
        {"a": [torch.ones(2, dtype=torch.bfloat16), torch.arange(3)], "b": (torch.ones(1),)}
    )
    assert out["a"][0].dtype == torch.float32 and out["a"][1].dtype == torch.int64
    assert isinstance(out["b"], tuple) and out["b"][0].dtype == torch.float32


class Network(nn.Module):
    """Shaped like an ultralytics model: the layers in ``.model``, called one after another."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.SiLU(), nn.Conv2d(4, 2, 1))
        self.fail_at = fail_at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.model):
            if index == self.fail_at:
                raise RuntimeError("failed midway")
            x = layer(x)
        return x


def installed(network: Network, bf16: bool) -> tuple[Network, list[torch.dtype]]:
    inner: list[torch.dtype] = []
    network.model[0].register_forward_hook(lambda m, a, out: inner.append(out.dtype))
    CpuTrainingSpeedups(bf16=bf16)(SimpleNamespace(model=network))
    return network, inner


def test_weights_go_channels_last_and_training_runs_in_bf16():
    network, inner = installed(Network(), bf16=True)
    weight = network.model[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 8, 8)
    out = network(x)
    assert inner == [torch.bfloat16] and out.dtype == torch.float32  # head output cast back
    assert not torch.is_autocast_enabled("cpu")  # the context is closed after the head
    out.square().mean().backward()
    assert weight.grad is not None and weight.grad.dtype == torch.float32
    with torch.no_grad():  # validation and inference stay float32
        network(x)
    assert inner[-1] == torch.float32


def test_fp32_keeps_float32_and_matches_the_plain_network():
    torch.manual_seed(0)
    plain = Network()
    network, inner = installed(Network(), bf16=False)
    network.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(network(x), plain(x), atol=1e-5)
    assert inner == [torch.float32]


def test_a_forward_that_fails_midway_does_not_leave_autocast_on():
    network, _ = installed(Network(fail_at=2), bf16=True)
    with pytest.raises(RuntimeError, match="midway"):
        network(torch.randn(1, 3, 8, 8))
    network.fail_at = None
    out = network(torch.randn(1, 3, 8, 8))  # the next step closes the stale context first
    assert out.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
