"""Scores with known answers: a perfect restorer, an identity restorer, detector counting."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from mosaicflow.evaluation.scores import (
    FrameScorer,
    detections_by_frame,
    score_video,
    union_mask,
    video_check,
)
from tests.unit.evaluation.conftest import (
    BOX,
    FRAMES,
    HEIGHT,
    MOSAIC_FRAMES,
    WIDTH,
    masks_table,
    pixelate,
    textured_frames,
    true_mask,
    write_video,
)

SIGMAS = (1.0, 2.0, 4.0)


def test_perfect_restorer_scores_very_high_in_the_mask(synthetic):
    table = pd.read_parquet(synthetic.masks)
    scored = score_video(
        synthetic.original, synthetic.mosaic, synthetic.perfect, synthetic.truth, table, SIGMAS
    )
    result = scored.scorer.result()
    assert scored.frames == dict.fromkeys(("original", "input", "restored", "truth"), FRAMES)
    assert result["restored"]["psnr_mask"] >= 100  # identical frames: the 1e-12 MSE floor
    assert result["restored"]["ssim_mask"] == pytest.approx(1.0)
    assert result["input"]["psnr_mask"] < 40  # the mosaic is far from the truth
    assert result["restored"]["psnr_mask"] > result["blur"]["psnr_mask"]
    assert result["frames"] == FRAMES


def test_identity_restorer_equals_the_mosaic_input_baseline(synthetic):
    table = pd.read_parquet(synthetic.masks)
    scored = score_video(
        synthetic.original, synthetic.mosaic, synthetic.identity, synthetic.truth, table, SIGMAS
    )
    result = scored.scorer.result()
    assert result["restored"] == result["input"]
    # the blur baseline searches every sigma and reports the best one in the mask
    assert set(result["blur_search"]) == {str(s) for s in SIGMAS}
    assert result["blur"]["psnr_mask"] == max(result["blur_search"].values())
    assert result["blur"]["sigma"] in SIGMAS


def test_detector_counts_recall_false_positives_and_coverage():
    scorer = FrameScorer((1.0,))
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    mosaic = true_mask(2)
    half = mosaic.copy()
    half[:, : (BOX[0] + BOX[2]) // 2] = False  # covers the right half of the true mask
    elsewhere = np.zeros_like(mosaic)
    elsewhere[0:4, 0:4] = True
    cases = [  # (true mask, detected)
        (mosaic, mosaic),  # hit, full coverage
        (mosaic, half),  # hit, half coverage
        (mosaic, np.zeros_like(mosaic)),  # miss
        (np.zeros_like(mosaic), elsewhere),  # false positive
        (np.zeros_like(mosaic), np.zeros_like(mosaic)),  # true negative
    ]
    for truth, detected in cases:
        scorer.add(frame, frame, frame, truth, detected)
    detection = scorer.result()["detection"]
    assert detection["frames_with_mosaic"] == 3 and detection["frames_without_mosaic"] == 2
    assert detection["frame_recall"] == pytest.approx(round(2 / 3, 4))
    assert detection["frame_fp_rate"] == pytest.approx(0.5)
    assert detection["false_positive_frames"] == 1 and detection["true_positive_frames"] == 2
    area = int(mosaic.sum())
    assert detection["mosaic_pixels"] == 3 * area
    assert detection["mosaic_coverage"] == pytest.approx((area + half.sum()) / (3 * area), 1e-4)


def test_merged_scorers_pool_like_one():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(4)]
    noisy = [
        np.clip(f.astype(int) + rng.integers(-9, 9, f.shape), 0, 255).astype(np.uint8)
        for f in frames
    ]
    masks = [true_mask(i) for i in (2, 0, 3, 1)]
    one, first, second = FrameScorer((2.0,)), FrameScorer((2.0,)), FrameScorer((2.0,))
    for i, (f, n, m) in enumerate(zip(frames, noisy, masks, strict=True)):
        one.add(f, n, n, m, m)
        (first if i < 2 else second).add(f, n, n, m, m)
    assert first.merged(second).result() == one.result()
    with pytest.raises(ValueError, match="sigmas differ"):
        first.merged(FrameScorer((3.0,)))


def test_frames_of_other_sizes_fail_naming_them():
    scorer = FrameScorer((1.0,))
    a = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    with pytest.raises(ValueError, match="frame sizes differ"):
        scorer.add(a, a, a[:-2], true_mask(2), true_mask(2))
    with pytest.raises(ValueError, match="sigma"):
        FrameScorer(())


def test_detections_table_round_trip():
    masks = {i: true_mask(i) for i in MOSAIC_FRAMES}
    table = masks_table(masks, FRAMES)
    found = detections_by_frame(table)
    assert sorted(found) == list(MOSAIC_FRAMES)
    assert np.array_equal(union_mask(found[3], HEIGHT, WIDTH), true_mask(3))
    assert not union_mask([], HEIGHT, WIDTH).any()


def test_shorter_restored_video_is_counted_and_flagged(synthetic, tmp_path):
    short = write_video(tmp_path / "short.mp4", pixelate(textured_frames(FRAMES))[:-2])
    scored = score_video(
        synthetic.original,
        synthetic.mosaic,
        short,
        synthetic.truth,
        pd.read_parquet(synthetic.masks),
        SIGMAS,
    )
    assert scored.frames["restored"] == FRAMES - 2 and scored.frames["input"] == FRAMES
    assert scored.scorer.result()["frames"] == FRAMES - 2
    check = video_check(synthetic.mosaic, short, scored.frames)
    assert check["frames_ok"] is False and check["ok"] is False
    assert check["fps_ok"] and check["audio_ok"]  # no audio on either side


def test_video_check_compares_fps_and_audio(synthetic, tmp_path):
    frames = {"input": FRAMES, "restored": FRAMES}
    same = video_check(synthetic.mosaic, synthetic.identity, frames)
    assert same["ok"] and same["fps_input"] == pytest.approx(10.0)
    assert same["audio_packets_input"] is None and same["audio_packets_restored"] is None
    faster = write_video(tmp_path / "fast.mp4", textured_frames(FRAMES), fps=25)
    assert not video_check(synthetic.mosaic, faster, frames)["fps_ok"]
    copy = tmp_path / "copy.mp4"
    shutil.copyfile(synthetic.mosaic, copy)
    assert video_check(synthetic.mosaic, copy, frames)["ok"]
