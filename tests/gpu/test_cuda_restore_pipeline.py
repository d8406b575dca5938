"""The restore command's CUDA paths: the restorer's CUDA graphs and batched clips against its
eager forward, and the pipeline on CUDA encoding with NVENC where the GPU offers it. Tiny
network, 32 px crops; skipped on a machine without CUDA."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from mosaicflow.inference.pipeline import RestoreSettings, restore_video
from mosaicflow.inference.restorer import BasicVSRRestorer
from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.video.encoders import codec_opens
from tests.unit.inference.conftest import (
    ScriptedDetector,
    box_mask,
    stream_info,
    textured_frames,
    write_video,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available"),
]


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    torch.manual_seed(5)
    path = tmp_path / "g.pt"
    torch.save(BasicVSRPlusPlusNet(8, 1, hr_skip=True).state_dict(), path)
    return path


def test_cuda_graph_replays_match_the_eager_forward(weights: Path):
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (3, 6, 32, 32, 3), dtype=np.uint8)  # one shape, new pixels
    eager = BasicVSRRestorer(weights, device="cuda")
    graphed = BasicVSRRestorer(weights, device="cuda", cuda_graphs=True)
    outputs = [graphed.restore(clip) for clip in clips]  # eager, captured, replayed
    assert graphed.graphed is not None and len(graphed.graphed.graphs) == 1
    for clip, out in zip(clips, outputs, strict=True):  # a stale replay would repeat a clip
        assert np.abs(out.astype(int) - eager.restore(clip)).max() <= 1


def test_batched_clips_on_cuda_match_one_at_a_time(weights: Path):
    restorer = BasicVSRRestorer(weights, device="cuda", precision="fp16")
    clips = np.random.default_rng(1).integers(0, 256, (3, 5, 32, 32, 3), dtype=np.uint8)
    together = restorer.restore_batch(clips)
    for clip, out in zip(clips, together, strict=True):
        assert np.abs(restorer.restore(clip).astype(int) - out).max() <= 2


def test_restore_on_cuda_encodes_with_nvenc_where_offered(weights: Path, tmp_path: Path):
    source = write_video(tmp_path / "in.mp4", textured_frames(12), audio=True)
    restorer = BasicVSRRestorer(weights, device="cuda", precision="fp16", cuda_graphs=True)
    restorer.input_size = 32
    masks = [box_mask(24, 16, 40, 32)] * 12
    out = tmp_path / "out.mp4"
    result = restore_video(
        source, out, ScriptedDetector(masks), restorer, RestoreSettings(clip_batch=2)
    )
    with av.open(str(source)) as opened:  # NVENC is tried at the video's size (it refuses
        size = opened.streams.video[0].width, opened.streams.video[0].height  # under 145 px)
    expected = "h264_nvenc" if codec_opens("h264_nvenc", size) is None else "libx264"
    assert result.encoder == expected
    assert stream_info(out)["frames"] == 12 and result.restored_frames == 12
