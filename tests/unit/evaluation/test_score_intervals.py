"""The end-to-end evaluation's PSNR gains in the mask, pooled over frames, with their bootstrap
intervals over the frames; the frame figures with theirs."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.evaluation.scores import FrameScorer
from tests.unit.evaluation.conftest import pixelate, textured_frames, true_mask

FRAMES = 8  # frames 2..5 carry a mosaic (conftest)


def scored(restored_noise: float, seed: int = 0) -> FrameScorer:
    """A scorer fed the mosaicked frames, 'restored' as the original plus noise in the mask."""
    rng = np.random.default_rng(seed)
    original = textured_frames(FRAMES, seed)
    mosaic = pixelate(original)
    scorer = FrameScorer((1.0, 2.0))
    for i in range(FRAMES):
        mask = true_mask(i)
        noise = rng.normal(0, restored_noise * (1 + i), original[i].shape) * mask[..., None]
        restored = np.clip(original[i] + noise, 0, 255).astype(np.uint8)
        scorer.add(original[i], mosaic[i], restored, mask, mask if i != 3 else mask & False)
    return scorer


def test_gains_pool_the_frames_as_the_figures_do_and_carry_intervals():
    result = scored(6.0).result()
    gain, restored = result["psnr_mask_gain"], result["restored"]["psnr_mask"]
    assert gain["frames"] == 4  # the frames with mask pixels
    assert gain["over_input"] == pytest.approx(restored - result["input"]["psnr_mask"], abs=2e-4)
    assert gain["over_blur"] == pytest.approx(restored - result["blur"]["psnr_mask"], abs=2e-4)
    for key in ("over_input", "over_blur"):
        low, high = gain[f"{key}_ci95"]
        assert low < gain[key] < high and 0 < gain[f"{key}_one_item"] < high - low
    detection = result["detection"]
    assert detection["frame_recall"] == 0.75  # frame 3's detection missed the mosaic
    low, high = detection["frame_recall_ci95"]
    assert low < 0.75 <= high
    assert detection["frame_fp_rate_ci95"] == [0.0, 0.0]


def test_merged_scorers_keep_every_frames_sums():
    one = scored(4.0)
    first, second = FrameScorer((1.0, 2.0)), FrameScorer((1.0, 2.0))
    for scorer, frames in ((first, range(0, 3)), (second, range(3, FRAMES))):
        scorer.mask_values = [one.mask_values[i] for i in frames]
        scorer.restored_se = [one.restored_se[i] for i in frames]
        scorer.mosaic_se = [one.mosaic_se[i] for i in frames]
        scorer.blur_se = {s: [v[i] for i in frames] for s, v in one.blur_se.items()}
    merged = first.merged(second)
    assert merged.mask_values == one.mask_values and merged.blur_se == one.blur_se
    assert merged.gains(2.0) == one.gains(2.0)
    empty = FrameScorer((1.0,)).gains(1.0)
    assert empty == {"frames": 0, "over_input": None, "over_input_ci95": None,
                     "over_input_one_item": None, "over_blur": None, "over_blur_ci95": None,
                     "over_blur_one_item": None}  # fmt: skip
