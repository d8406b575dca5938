"""The BasicVSR++ restorer: one clip as before, several clips of one length in one forward
pass, and the CUDA-only settings falling back to float32 on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mosaicflow.inference.protocols import BatchRestorer
from mosaicflow.inference.restorer import BasicVSRRestorer
from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.config import restoration_config

CROP = 32


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """Random demo-size generator weights (a plain state dict)."""
    cfg = restoration_config("demo")
    torch.manual_seed(1)
    network = BasicVSRPlusPlusNet(cfg.mid_channels, cfg.num_blocks, hr_skip=cfg.hr_skip)
    path = tmp_path_factory.mktemp("restorer") / "generator.pth"
    torch.save(network.state_dict(), path)
    return str(path)


def clips(batch: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (batch, length, CROP, CROP, 3), dtype=np.uint8)


def test_one_clip_is_restored_as_the_network_computes_it(weights):
    restorer = BasicVSRRestorer(weights, device="cpu")
    clip = clips(1, 4)[0]
    with torch.inference_mode():  # the network on the clip, as the first restorer fed it
        x = torch.from_numpy(clip).permute(0, 3, 1, 2).unsqueeze(0).float().div_(255.0)
        y = restorer.network(x).clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    expected = y[0].permute(0, 2, 3, 1).numpy()
    assert np.array_equal(restorer.restore(clip), expected)


def test_clips_of_one_length_are_restored_in_one_call(weights):
    restorer = BasicVSRRestorer(weights, device="cpu", frames_per_call=3)
    assert isinstance(restorer, BatchRestorer)
    batch = clips(3, 5)
    together = restorer.restore_batch(batch)
    assert together.shape == batch.shape and together.dtype == np.uint8
    for clip, restored in zip(batch, together, strict=True):
        alone = restorer.restore(clip)
        # another batch size may round a value differently (oneDNN's kernels), never more
        assert np.abs(alone.astype(int) - restored).max() <= 1


def test_cuda_only_settings_fall_back_to_float32_on_the_cpu(weights):
    restorer = BasicVSRRestorer(weights, device="cpu", precision="bf16", cuda_graphs=True)
    assert restorer.precision == "fp32" and not restorer.fp16 and not restorer.cuda_graphs
    assert not restorer.channels_last and restorer.graphed is None
    assert restorer.restore(clips(1, 2)[0]).shape == (2, CROP, CROP, 3)
    with pytest.raises(ValueError, match="precision"):
        BasicVSRRestorer(weights, device="cpu", precision="int8")


@pytest.mark.parametrize("frames", [0, -1])
def test_a_frames_per_call_under_one_is_refused_not_a_skipped_restore(weights, frames):
    with pytest.raises(ValueError, match=f"frames_per_call must be at least 1, got {frames}"):
        BasicVSRRestorer(weights, device="cpu", frames_per_call=frames)
