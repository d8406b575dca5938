"""The restoration chain on CUDA: device names, both training stages, export and the restorer's
half-precision inference. Tiny networks and 32 px clips; skipped on a machine without CUDA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mosaicflow.devices import torch_device, ultralytics_device
from mosaicflow.inference.restorer import BasicVSRRestorer
from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.export import convert, export
from mosaicflow.restore.loop import StageRun
from mosaicflow.restore.stage1 import train_stage1
from mosaicflow.restore.stage2 import train_stage2
from mosaicflow.restore.weights import read_checkpoint
from tests.unit.restore.test_restore_training import Clips, Crashing, make_cfg

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available"),
]


def test_device_names_resolve_to_the_gpu():
    assert torch_device("auto") == torch.device("cuda:0")
    assert torch_device("cuda") == torch.device("cuda:0")
    assert torch_device("cuda:0") == torch.device("cuda:0")
    assert ultralytics_device("cuda") == "0"


def test_generator_on_cuda_matches_the_cpu():
    torch.manual_seed(0)
    net = BasicVSRPlusPlusNet(8, 1, hr_skip=True).eval()
    lq = torch.rand(1, 3, 3, 32, 32)
    with torch.no_grad():
        cpu = net(lq)
        gpu = net.cuda()(lq.cuda()).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-4), float((cpu - gpu).abs().max())


def test_stage1_on_cuda_trains_resumes_and_loads_on_the_cpu(tmp_path: Path):
    cfg = make_cfg(stage1={"iterations": 4, "fix_iter": 2})
    args = dict(seed=1, device="cuda")
    result = train_stage1(
        cfg, StageRun(Clips(3), Clips(1, 9), tmp_path / "a", tmp_path / "a.pt", **args)
    )
    assert np.isfinite(result.losses["pixel"])
    assert [v["iter"] for v in result.validation] == [0, 2, 4]
    with pytest.raises(KeyboardInterrupt):  # killed while reading the 4th sample
        train_stage1(
            cfg, StageRun(Crashing(3, 4), Clips(1, 9), tmp_path / "b", tmp_path / "b.pt", **args)
        )
    assert read_checkpoint(tmp_path / "b" / "last.pt")["iteration"] == 2
    resumed = train_stage1(
        cfg, StageRun(Clips(3), Clips(1, 9), tmp_path / "b", tmp_path / "b.pt", **args)
    )
    assert resumed.resumed_from == 2
    a, b = read_checkpoint(tmp_path / "a.pt"), read_checkpoint(tmp_path / "b.pt")
    assert a.keys() == b.keys()
    assert all(t.device.type == "cpu" for t in a.values())
    # deform_conv2d's CUDA backward accumulates with atomics: equal up to float rounding
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a), "resume drifted on CUDA"
    BasicVSRPlusPlusNet(8, 1).load_state_dict(a, strict=True)


def test_stage2_on_cuda_and_export(tmp_path: Path):
    cfg = make_cfg(stage1={"iterations": 2}, stage2={"iterations": 2})
    train_stage1(
        cfg, StageRun(Clips(3), None, tmp_path / "w1", tmp_path / "s1.pt", seed=0, device="cuda")
    )
    init = tmp_path / "init.pt"
    convert(cfg, tmp_path / "s1.pt", init, seed=0)
    run = StageRun(Clips(3), Clips(1, 9), tmp_path / "w2", tmp_path / "s2.pt", 0, "cuda")
    res = train_stage2(cfg, init, run)
    assert {"pixel", "gan", "d_real", "d_fake"} <= set(res.losses)
    assert all(np.isfinite(v) for v in res.losses.values())
    card = export(cfg, tmp_path / "s2.pt", tmp_path / "g.pt", tmp_path / "model.json")
    assert card["input_size"] == 32
    BasicVSRPlusPlusNet(8, 1).load_state_dict(read_checkpoint(tmp_path / "g.pt"), strict=True)


def test_restorer_half_precision_on_cuda_matches_fp32_on_cpu(tmp_path: Path):
    torch.manual_seed(3)
    weights = tmp_path / "g.pt"
    torch.save(BasicVSRPlusPlusNet(8, 1, hr_skip=True).state_dict(), weights)
    clip = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    cpu = BasicVSRRestorer(weights, device="cpu").restore(clip)
    fp16 = BasicVSRRestorer(weights, device="cuda", fp16=True)
    assert fp16.fp16 and fp16.device.type == "cuda"
    gpu = fp16.restore(clip)
    assert gpu.shape == clip.shape and gpu.dtype == np.uint8
    diff = np.abs(cpu.astype(np.int16) - gpu.astype(np.int16))
    assert diff.max() <= 3, diff.max()
