"""Weight loading: the three generator layouts, mmengine checkpoints, SPyNet, strict errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.config import RestorationConfig, restoration_config
from mosaicflow.restore.models import build_generator
from mosaicflow.restore.weights import (
    WeightsError,
    load_generator_weights,
    load_spynet_weights,
    read_checkpoint,
)


def _net(seed: int) -> BasicVSRPlusPlusNet:
    torch.manual_seed(seed)
    net = BasicVSRPlusPlusNet(mid_channels=8, num_blocks=1)
    for p in net.parameters():  # make every tensor distinguishable
        torch.nn.init.normal_(p)
    return net


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _cfg(**kw) -> RestorationConfig:
    base = dict(
        mid_channels=8,
        num_blocks=1,
        hr_skip=False,
        spynet_weights=None,
        init_weights=None,
        vgg19_weights=None,
        weights=None,
    )
    return restoration_config(**{**base, **kw})


def test_plain_state_dict(tmp_path: Path):
    src = _net(1)
    torch.save(src.state_dict(), tmp_path / "plain.pth")
    dst = _net(2)
    assert load_generator_weights(dst, tmp_path / "plain.pth") == "plain"
    assert _same(src, dst)


def test_mmengine_checkpoint_with_message_hub_and_numpy(tmp_path: Path):
    from mmengine.logging import MessageHub

    hub = MessageHub.get_instance("mosaicflow-restore-test")
    hub.update_scalar("train/loss", 0.25)
    src = _net(3)
    ckpt = {
        "meta": {"iter": 10, "seed": np.int64(7), "mmengine_version": "0.10.7"},
        "state_dict": src.state_dict(),
        "message_hub": hub.state_dict(),
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]},
    }
    torch.save(ckpt, tmp_path / "iter_10.pth")
    dst = _net(4)
    assert load_generator_weights(dst, tmp_path / "iter_10.pth") == "mmengine:plain"
    assert _same(src, dst)


def test_published_inference_layout_prefers_ema(tmp_path: Path):
    gen, ema = _net(5), _net(6)
    state = {f"generator.{k}": v for k, v in gen.state_dict().items()}
    state |= {f"generator_ema.{k}": v for k, v in ema.state_dict().items()}
    torch.save(state, tmp_path / "published.pth")
    dst = _net(7)
    assert load_generator_weights(dst, tmp_path / "published.pth") == "generator_ema"
    assert _same(ema, dst)
    assert load_generator_weights(dst, tmp_path / "published.pth", prefer_ema=False) == "generator"
    assert _same(gen, dst)
    # mmengine stage-2 checkpoint: generator + discriminator, no EMA
    wrapped = {"state_dict": {k: v for k, v in state.items() if k.startswith("generator.")}}
    wrapped["state_dict"]["discriminator.conv_0.weight"] = torch.zeros(1)
    torch.save(wrapped, tmp_path / "stage2.pth")
    assert load_generator_weights(dst, tmp_path / "stage2.pth") == "mmengine:generator"
    assert _same(gen, dst)


def test_strict_errors_name_the_file_and_keys(tmp_path: Path):
    state = _net(1).state_dict()
    del state["conv_last.bias"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(WeightsError, match=r"broken\.pth.*missing.*conv_last\.bias.*extra"):
        load_generator_weights(_net(2), tmp_path / "broken.pth")
    torch.save(BasicVSRPlusPlusNet(16, 1).state_dict(), tmp_path / "wide.pth")
    with pytest.raises(WeightsError, match="shape mismatch"):
        load_generator_weights(_net(2), tmp_path / "wide.pth")
    with pytest.raises(WeightsError, match="not found"):
        read_checkpoint(tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"junk\.pth"):
        read_checkpoint(tmp_path / "junk.pth")


def test_arbitrary_objects_are_refused(tmp_path: Path):
    torch.save({"state_dict": _net(1).state_dict(), "meta": {"obj": Path("x")}}, tmp_path / "a.pth")
    with pytest.raises(WeightsError, match=r"a\.pth"):
        read_checkpoint(tmp_path / "a.pth")


def test_spynet_weights_published_layout_and_prefixed(tmp_path: Path):
    src = _net(8)
    # published SPyNet files hold the convolutions only (no mean/std buffers)
    convs = {k: v for k, v in src.spynet.state_dict().items() if k not in ("mean", "std")}
    torch.save({"state_dict": convs, "meta": {}}, tmp_path / "spynet.pth")
    model = build_generator(_cfg(), spynet_weights=tmp_path / "spynet.pth")
    for key, value in convs.items():
        assert torch.equal(model.spynet.state_dict()[key], value)
    assert torch.allclose(model.spynet.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    # a whole generator file works too (its spynet.* part)
    torch.save(src.state_dict(), tmp_path / "gen.pth")
    other = _net(9)
    load_spynet_weights(other.spynet, tmp_path / "gen.pth")
    assert _same(other.spynet, src.spynet)
    del convs["basic_module.5.basic_module.4.conv.bias"]
    torch.save(convs, tmp_path / "short.pth")
    with pytest.raises(WeightsError, match="missing"):
        load_spynet_weights(other.spynet, tmp_path / "short.pth")


def test_build_generator_loads_full_weights(tmp_path: Path):
    src = _net(10)
    torch.save(src.state_dict(), tmp_path / "w.pth")
    model = build_generator(_cfg(), weights=tmp_path / "w.pth")
    assert _same(model, src)
    bare = build_generator(_cfg())
    assert bare.spynet.basic_module[3].last_conv.weight.abs().max() == 0
