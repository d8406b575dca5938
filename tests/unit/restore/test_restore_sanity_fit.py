"""SLOWEST test of the restore folder (~20 s at one thread): stage 1 must learn.

A tiny generator (mid 16, 1 block) is fitted with :func:`train_stage1` to ONE clip (3 frames,
32 px, a photo crop moving 1 px per frame, 4 px block mosaic in the centre) and validated on
the same clip: PSNR inside the mosaic must rise by at least 5 dB over the mosaic input and
over the starting network. A generator that cannot fit a single clip has a bug (loss, data
path, optimizer or network). SPyNet stays frozen (``fix_iter`` = all iterations), which keeps
it at zero flow and the step cheap; the loss weights the outside of the mask by 0.1 as in
``bench/restore_spike.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import skimage.data
import skimage.transform
import torch

from mosaicflow.config import build, validate_config
from mosaicflow.restore.config import RestorationConfig, job_from
from mosaicflow.restore.loop import StageRun
from mosaicflow.restore.stage1 import train_stage1

SIZE, FRAMES, BLOCK, ITERATIONS = 32, 3, 4, 80


class OneClip(torch.utils.data.Dataset):
    def __init__(self) -> None:
        img = skimage.data.astronaut()[100:300, 150:350].astype(np.float32) / 255
        img = skimage.transform.resize(img, (SIZE + 2 * FRAMES,) * 2, anti_aliasing=True)
        frames = np.stack([img[i : i + SIZE, i : i + SIZE] for i in range(FRAMES)])
        gt = torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2).contiguous()
        mask = torch.zeros(FRAMES, 1, SIZE, SIZE)
        q = SIZE // 4
        mask[:, :, q : SIZE - q, q : SIZE - q] = 1
        blocks = torch.nn.functional.avg_pool2d(gt, BLOCK)
        mosaic = blocks.repeat_interleave(BLOCK, -1).repeat_interleave(BLOCK, -2)
        self.sample = (mask * mosaic + (1 - mask) * gt, gt, mask)

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int):
        return self.sample


def test_zz_slowest_stage1_fits_one_clip(tmp_path: Path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    config = {
        "restoration": {
            "mid_channels": 16,
            "num_blocks": 1,
            "init_weights": "random",  # the fit starts from scratch
            "stage1": {
                "iterations": ITERATIONS,
                "size": SIZE,
                "num_frames": FRAMES,
                "lr": 1e-3,
                "schedule": "constant",
                "outside_weight": 0.1,
                "fix_iter": ITERATIONS,
                "checkpoint_every": ITERATIONS,
                "val_every": ITERATIONS // 4,
            },
        }
    }
    validate_config(config)
    cfg = build(RestorationConfig, config["restoration"])
    start = time.perf_counter()
    try:
        result = train_stage1(
            job_from(cfg, "stage1"),
            StageRun(OneClip(), OneClip(), tmp_path / "w", tmp_path / "g.pt", seed=0, device="cpu"),
        )
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    curve = [(v["iter"], v["psnr_mask"]) for v in result.validation]
    mosaic = result.baselines["input"]["psnr_mask"]
    print(f"sanity fit: {seconds:.1f} s, mosaic {mosaic:.2f} dB, curve {curve}")
    assert curve[0][0] == 0 and curve[-1][0] == ITERATIONS
    final = curve[-1][1]
    assert final >= mosaic + 5.0, curve
    assert final >= curve[0][1] + 5.0, curve
    assert final > result.baselines["blur"]["psnr_mask"], result.baselines["blur"]
    assert result.validation[-1]["ssim_mask"] > result.baselines["input"]["ssim_mask"]
    assert result.losses["pixel"] < result.loss_curve[0]["pixel"]
