"""The restoration training step is CUDA-graph capturable: no host sync, data-independent ops.

A CUDA graph replays a fixed sequence of kernels on fixed buffers, so the captured code may not
read tensor values on the host (``.item()``, ``bool(t)``, ``torch.equal``, ``.tolist()``),
may not copy host data into new tensors (``new_tensor([...])``, ``torch.tensor``), and must run
the same ops with the same shapes whatever the pixel values are. Both are checked on CPU here:
``HostSyncGuard`` records every such call (at the Python level and at the aten level, where
``.item()``/``bool()`` become ``_local_scalar_dense``), and the op traces of two clips with
different content (one a palindrome, which the old mirror check treated differently) must be
identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet, is_mirror_extended
from mosaicflow.restore.discriminator import UNetDiscriminatorWithSpectralNorm
from mosaicflow.restore.losses import CharbonnierLoss, GANLoss, PerceptualLoss
from mosaicflow.restore.spynet import LEVELS, SPyNet

# Python-level calls that read tensor data on the host or build tensors from host data.
SYNC_FUNCTIONS = frozenset(
    {
        "item",
        "tolist",
        "numpy",
        "cpu",
        "__bool__",
        "__int__",
        "__float__",
        "__index__",
        "equal",
        "new_tensor",
        "tensor",
        "as_tensor",
        "nonzero",
    }
)
# aten ops that sync, copy host data in, or give data-dependent shapes.
SYNC_OPS = frozenset(
    {
        "aten._local_scalar_dense",
        "aten.equal",
        "aten.is_nonzero",
        "aten.lift_fresh",
        "aten.lift_fresh_copy",
        "aten.nonzero",
        "aten.masked_select",
        "aten._unique2",
        "aten.unique_consecutive",
        "aten.unique_dim",
    }
)

# indexing with a boolean mask hides a nonzero() (data-dependent shape) inside these ops
MASK_INDEX_OPS = frozenset({"aten.index", "aten.index_put", "aten.index_put_"})


def _has_bool_index(args: tuple) -> bool:
    indices = args[1] if len(args) > 1 and isinstance(args[1], list | tuple) else ()
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices)


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self, found: list[str]) -> None:
        super().__init__()
        self.found = found

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in SYNC_FUNCTIONS:
            self.found.append(f"torch function {name}")
        return func(*args, **(kwargs or {}))


class _DispatchRecorder(TorchDispatchMode):
    def __init__(self, found: list[str], trace: list[tuple[str, tuple]]) -> None:
        super().__init__()
        self.found = found
        self.trace = trace

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        if name in SYNC_OPS or (name in MASK_INDEX_OPS and _has_bool_index(args)):
            self.found.append(f"aten op {func}")
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, tuple | list) else (out,)
        shapes = tuple(tuple(o.shape) for o in outs if isinstance(o, torch.Tensor))
        self.trace.append((str(func), shapes))
        return out


class HostSyncGuard:
    """Context manager recording host syncs (``found``) and the aten op trace (``trace``)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.trace: list[tuple[str, tuple]] = []

    def __enter__(self) -> HostSyncGuard:
        self._modes = [_FunctionRecorder(self.found), _DispatchRecorder(self.found, self.trace)]
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _clip(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def _palindrome(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    n, t, *rest = shape
    half = _clip((n, t // 2, *rest), seed)
    return torch.cat([half, half.flip(1)], dim=1)


def _generator() -> BasicVSRPlusPlusNet:
    torch.manual_seed(0)
    model = BasicVSRPlusPlusNet(mid_channels=8, num_blocks=1)
    for level in model.spynet.basic_module:  # non-zero flows: warping and alignment do work
        torch.nn.init.normal_(level.last_conv.weight, std=0.01)
    return model


def _guarded(step: Callable[[], object]) -> HostSyncGuard:
    with HostSyncGuard() as guard:
        step()
    return guard


def test_guard_catches_the_usual_host_syncs():
    """The guard is not empty: each of these is what a CUDA graph capture cannot contain."""
    x = torch.rand(2, 3)
    cases = {
        "item": lambda: x.sum().item(),
        "bool": lambda: bool((x > 0.5).any()),
        "if": lambda: 1 if x.max() > 2 else 0,
        "equal": lambda: torch.equal(x, x.flip(0)),
        "new_tensor": lambda: x.new_tensor([1.0, 2.0]),
        "tolist": lambda: x.tolist(),
        "mask": lambda: x[x > 0.5],
    }
    for name, call in cases.items():
        assert _guarded(call).found, name
    assert not _guarded(lambda: (x * 2.0).sum()).found


def test_generator_training_step_has_no_host_sync():
    """Forward, losses (pixel, perceptual, GAN) and backward of a tiny stage-2 step."""
    model = _generator().train()
    disc = UNetDiscriminatorWithSpectralNorm(mid_channels=8).train()
    pixel, gan = CharbonnierLoss(), GANLoss()
    perceptual = PerceptualLoss(layer_weights={2: 0.1, 7: 0.1, 16: 1.0}).train()
    lq, gt = _clip((1, 4, 3, 64, 64), 1), _clip((1, 4, 3, 64, 64), 2)

    def step() -> None:
        out = model(lq)
        logits = disc(out.reshape(-1, 3, 64, 64))
        loss = pixel(out, gt) + perceptual(out, gt) + gan(logits, target_is_real=True)
        loss.backward()

    guard = _guarded(step)
    assert guard.found == []
    assert any("deform_conv2d" in op for op, _ in guard.trace)  # the trace saw the model
    assert all(p.grad is not None for p in model.parameters())


def test_generator_inference_has_no_host_sync():
    model = _generator().eval()
    with torch.no_grad():
        assert _guarded(lambda: model(_clip((2, 4, 3, 36, 50), 3))).found == []


def test_op_sequence_does_not_depend_on_the_clip_content():
    """A graph replays one op sequence: a palindrome and a random clip must trace the same."""
    model = _generator().train()
    traces = []
    for clip in (_clip((1, 4, 3, 64, 64), 4), _palindrome((1, 4, 3, 64, 64), 5)):
        model.zero_grad(set_to_none=True)  # same gradient accumulation ops in both runs
        traces.append(_guarded(lambda clip=clip: model(clip).square().mean().backward()).trace)
    assert len(traces[0]) > 100
    assert traces[0] == traces[1]


def test_mirrored_flag_reuses_flows_and_gives_the_same_output():
    model = _generator().eval()
    clip = _palindrome((1, 4, 3, 64, 64), 6)
    assert is_mirror_extended(clip)
    with torch.no_grad():
        exact = model(clip)
        guard = HostSyncGuard()
        with guard:
            reused = model(clip, mirrored=True)
    assert guard.found == []
    assert exact.sub(clip).abs().max() > 1e-3
    torch.testing.assert_close(reused, exact, atol=1e-5, rtol=0)

    # half the SPyNet passes: each pass ends in one 2-channel convolution per pyramid level
    def flow_convs(trace: list[tuple[str, tuple]]) -> int:
        return sum(op.startswith("aten.convolution") and s[0][1] == 2 for op, s in trace)

    with torch.no_grad():
        assert flow_convs(_guarded(lambda: model(clip)).trace) == 2 * LEVELS
    assert flow_convs(guard.trace) == LEVELS


def test_is_mirror_extended():
    clip = _palindrome((2, 4, 3, 8, 8), 7)
    assert is_mirror_extended(clip)
    assert not is_mirror_extended(_clip((2, 4, 3, 8, 8), 8))
    assert not is_mirror_extended(clip[:, :3])  # odd length
    assert not is_mirror_extended(clip[:, :0])


def test_mirrored_needs_an_even_clip():
    model = _generator().eval()
    with pytest.raises(ValueError, match="even number of frames"):
        model(_clip((1, 3, 3, 16, 16), 9), mirrored=True)


@pytest.mark.parametrize("size", [(64, 64), (40, 70), (96, 33)])
def test_spynet_flow_scaling_matches_the_tensor_scale(size):
    """The Python-float per-channel scale equals the former ``new_tensor`` scale bit for bit."""
    torch.manual_seed(10)
    spynet = SPyNet()
    for level in spynet.basic_module:
        torch.nn.init.normal_(level.last_conv.weight, std=0.01)
    h, w = size
    ref, supp = _clip((2, 3, h, w), 11), _clip((2, 3, h, w), 12)
    step = 2 ** (LEVELS - 1)
    h_up, w_up = -(-h // step) * step, -(-w // step) * step
    resize = torch.nn.functional.interpolate
    with torch.no_grad():
        flow = spynet._pyramid_flow(
            resize(ref, size=(h_up, w_up), mode="bilinear", align_corners=False),
            resize(supp, size=(h_up, w_up), mode="bilinear", align_corners=False),
        )
        flow = resize(flow, size=(h, w), mode="bilinear", align_corners=False)
        expected = flow * flow.new_tensor([w / w_up, h / h_up]).view(1, 2, 1, 1)
        got = spynet(ref, supp)
    assert expected.abs().max() > 1e-3
    assert torch.equal(got, expected)
