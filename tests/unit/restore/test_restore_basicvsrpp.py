"""BasicVSR++ generator: reference key layout, numerical parity, small inputs, training."""

from __future__ import annotations

import pytest
import torch

from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.layers import reflect_pad_to
from mosaicflow.restore.losses import CharbonnierLoss
from mosaicflow.restore.spynet import SPyNet


def _clip(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen)


def test_state_dict_matches_reference_layout(key_table):
    expected = key_table("basicvsrpp_mid64_blocks15_keys.tsv")
    model = BasicVSRPlusPlusNet(mid_channels=64, num_blocks=15)
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert len(ours) == len(expected) == 406
    assert ours == expected


def test_hr_skip_adds_only_its_branch_to_the_reference_layout(key_table):
    expected = key_table("basicvsrpp_mid64_blocks15_keys.tsv")
    plain = BasicVSRPlusPlusNet(mid_channels=64, num_blocks=15)
    model = BasicVSRPlusPlusNet(mid_channels=64, num_blocks=15, hr_skip=True)
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    extra = [row for row in ours if row[0].startswith("hr_skip.")]
    assert extra == [
        ("hr_skip.0.weight", (64, 3, 3, 3)),
        ("hr_skip.0.bias", (64,)),
        ("hr_skip.2.weight", (64, 64, 3, 3)),
        ("hr_skip.2.bias", (64,)),
    ]
    assert [row for row in ours if not row[0].startswith("hr_skip.")] == expected
    # published weights (no branch) load strictly only into the plain layout
    with pytest.raises(RuntimeError, match="hr_skip"):
        model.load_state_dict(plain.state_dict(), strict=True)
    clip = _clip((1, 3, 3, 24, 24))
    out = BasicVSRPlusPlusNet(16, 1, hr_skip=True)(clip)
    assert out.shape == clip.shape


def test_parity_with_reference_output(reference_dir):
    fixture = torch.load(reference_dir / "basicvsrpp_parity_mid16_blocks2.pt", weights_only=True)
    cfg = fixture["config"]
    assert cfg["is_low_res_input"] is False
    model = BasicVSRPlusPlusNet(cfg["mid_channels"], cfg["num_blocks"]).eval()
    model.load_state_dict(fixture["state_dict"], strict=True)
    assert fixture["input"].shape[-1] >= 256
    with torch.no_grad():
        out = model(fixture["input"])
    assert out.shape == fixture["output"].shape
    diff = (out - fixture["output"]).abs().max().item()
    assert diff < 1e-4, f"max abs difference {diff}"
    # the fixture is not trivial: the network changes its input clearly
    assert (fixture["output"] - fixture["input"]).abs().mean() > 1e-3


@pytest.mark.parametrize("shape", [(1, 2, 3, 64, 64), (2, 2, 3, 36, 50), (1, 3, 3, 130, 66)])
def test_small_and_odd_inputs_keep_their_size(shape):
    torch.manual_seed(0)
    model = BasicVSRPlusPlusNet(mid_channels=8, num_blocks=1).eval()
    clip = _clip(shape)
    with torch.no_grad():
        out = model(clip)
    assert out.shape == clip.shape
    assert torch.isfinite(out).all()


def test_small_input_equals_explicitly_padded_run_at_its_native_corner():
    """At 64 px the flow frames are reflect padded; the features are not: check crop-back."""
    torch.manual_seed(1)
    model = BasicVSRPlusPlusNet(mid_channels=8, num_blocks=1).eval()
    clip = _clip((1, 2, 3, 62, 61), seed=3)
    with torch.no_grad():
        out = model(clip)
        padded = torch.nn.functional.pad(clip.view(2, 3, 62, 61), (0, 3, 0, 2), mode="reflect")
        out_padded = model(padded.view(1, 2, 3, 64, 64))
    torch.testing.assert_close(out, out_padded[..., :62, :61])


def test_single_frame_and_bad_shapes():
    model = BasicVSRPlusPlusNet(mid_channels=8, num_blocks=1).eval()
    with torch.no_grad():
        assert model(_clip((1, 1, 3, 32, 32))).shape == (1, 1, 3, 32, 32)
    with pytest.raises(ValueError, match=r"\(N, T, 3, H, W\)"):
        model(_clip((1, 3, 32, 32)))
    with pytest.raises(ValueError, match="multiple of 8"):
        BasicVSRPlusPlusNet(mid_channels=12)


def test_mirror_extended_clip_reuses_flows_exactly():
    torch.manual_seed(2)
    model = BasicVSRPlusPlusNet(mid_channels=8, num_blocks=1).eval()
    for level in model.spynet.basic_module:  # a non-zero flow, or the check is empty
        torch.nn.init.normal_(level.last_conv.weight, std=0.01)
    half = _clip((1, 2, 3, 16, 16), seed=4)
    mirrored = torch.cat([half, half.flip(1)], dim=1)
    with torch.no_grad():
        to_prev, to_next = model.compute_flows(mirrored, mirrored=True)
        both_prev, both_next = model.compute_flows(mirrored)  # default: no reuse
        frames = reflect_pad_to(mirrored[0], 64, 64)
        direct = model.spynet(frames[1:], frames[:-1])[..., :16, :16]
    assert to_prev.shape == to_next.shape == (1, 3, 2, 16, 16)
    assert to_next.abs().max() > 1e-3
    torch.testing.assert_close(to_prev[0], direct, atol=1e-5, rtol=0)
    assert torch.equal(both_prev[0], direct) and torch.equal(both_next, to_next)


def test_spynet_without_weights_predicts_zero_flow_and_trains():
    spynet = SPyNet()
    a, b = _clip((2, 3, 64, 64), seed=5), _clip((2, 3, 64, 64), seed=6)
    flow = spynet(a, b)
    assert flow.shape == (2, 2, 64, 64)
    assert flow.abs().max() == 0
    flow.pow(2).sum().backward()
    assert all(p.requires_grad for p in spynet.parameters())
    last = spynet.basic_module[0].last_conv
    assert last.weight.abs().max() == 0 and last.bias.abs().max() == 0


def test_gradient_step_lowers_charbonnier_loss():
    torch.manual_seed(0)
    model = BasicVSRPlusPlusNet(mid_channels=8, num_blocks=1)
    target = _clip((1, 2, 3, 48, 48), seed=7)
    degraded = torch.nn.functional.avg_pool2d(target.view(-1, 3, 48, 48), 8)
    degraded = torch.nn.functional.interpolate(degraded, scale_factor=8).view_as(target)
    loss_fn = CharbonnierLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(1):
        opt.zero_grad()
        loss = loss_fn(model(degraded), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        after = loss_fn(model(degraded), target).item()
    assert after < losses[0]
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
