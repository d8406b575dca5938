"""evaluate_restoration on synthetic test videos: evaluate.json, the table, the samples."""

from __future__ import annotations

import json

import cv2
import pandas as pd
import pytest

from mosaicflow.evaluation.config import EvaluateConfig
from mosaicflow.evaluation.evaluate import (
    TABLE_COLUMNS,
    EvalItem,
    blur_sigmas,
    evaluate_restoration,
)
from tests.unit.evaluation.conftest import FRAMES, MOSAIC_FRAMES

CFG = EvaluateConfig(
    roles=("test",),
    max_clip_frames=8,
    max_gap_frames=0,
    batch=4,
    frames_per_call=None,
    fp16=False,
    crf=18,
    preset="veryfast",
    sample_seconds=0.3,
    grid_frames=3,
)


def _item(synthetic, tmp_path, name, restored):
    summary = tmp_path / f"{name}.json"
    summary.write_text(json.dumps({"restored_frames": 4, "passthrough_frames": 4, "clips": 1}))
    return EvalItem(
        name,
        synthetic.original,
        synthetic.mosaic,
        synthetic.truth,
        restored,
        synthetic.masks,
        summary,
    )


def test_evaluate_writes_metrics_table_and_samples(synthetic, tmp_path):
    items = [
        _item(synthetic, tmp_path, "world-test-00", synthetic.perfect),
        _item(synthetic, tmp_path, "world-test-01", synthetic.identity),
    ]
    out = {
        k: tmp_path / "out" / v
        for k, v in {
            "m": "evaluate.json",
            "t": "table.tsv",
            "v": "sbs.mp4",
            "g": "grid.png",
        }.items()
    }
    metrics = evaluate_restoration(
        CFG, items, (1.0, 2.0), out["m"], out["t"], out["v"], out["g"], code="abc"
    )
    assert json.loads(out["m"].read_text()) == metrics
    assert metrics["videos"] == 2 and metrics["code_hash"] == "abc" and metrics["video_ok"]
    perfect, identity = metrics["per_video"]
    assert perfect["restored"]["psnr_mask"] >= 100
    assert identity["restored"] == identity["input"]
    assert perfect["detection"]["frame_recall"] == 1.0
    assert perfect["detection"]["frame_fp_rate"] == 0.0
    assert perfect["detection"]["mosaic_coverage"] == 1.0
    assert perfect["video_check"]["frames_ok"] and perfect["restore"]["clips"] == 1
    total = metrics["total"]
    assert total["frames"] == 2 * FRAMES
    assert total["detection"]["frames_with_mosaic"] == 2 * len(MOSAIC_FRAMES)
    # pooled PSNR lies between the two videos'
    assert identity["restored"]["psnr_mask"] < total["restored"]["psnr_mask"] < 100
    table = pd.read_csv(out["t"], sep="\t")
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table["video"].tolist() == ["world-test-00", "world-test-01", "all"]
    assert table["restored_frames"].tolist() == [4, 4, 8]
    samples = metrics["samples"]
    assert samples["side_by_side"]["video"] == "world-test-00"
    assert samples["side_by_side"]["frames"] == 3  # 0.3 s at 10 fps
    assert samples["side_by_side"]["start"] in MOSAIC_FRAMES
    assert len(samples["grid"]) == 3
    assert cv2.imread(str(out["g"])) is not None and out["v"].stat().st_size > 0


def test_evaluate_without_videos_fails(tmp_path):
    with pytest.raises(ValueError, match=r"evaluate\.roles"):
        evaluate_restoration(CFG, [], (1.0,), *(tmp_path / n for n in "abcd"), code="x")


def test_blur_sigma_comes_from_validation_when_the_card_has_one(tmp_path):
    card = tmp_path / "model.json"
    card.write_text(json.dumps({"baselines": {"blur": {"sigma": 2.0, "psnr_mask": 20.0}}}))
    assert blur_sigmas(card, [0.5, 1.0, 2.0]) == [2.0]
    card.write_text(json.dumps({"baselines": None}))  # given weights: no validation
    assert blur_sigmas(card, [0.5, 1]) == [0.5, 1.0]
    assert blur_sigmas(None, [3]) == [3.0]
    card.write_text("[1]")
    with pytest.raises(ValueError, match=r"model\.json"):
        blur_sigmas(card, [1.0])
    with pytest.raises(ValueError, match="blur_sigmas"):
        blur_sigmas(None, [])


def test_face_mosaics_are_scored_apart_from_the_restored_ones():
    import numpy as np

    from mosaicflow.evaluation.scores import FrameScorer

    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    mosaic = original.copy()
    region, face = np.zeros((24, 32), bool), np.zeros((24, 32), bool)
    region[2:10, 2:10], face[12:22, 18:30] = True, True
    mosaic[region | face] = 128
    untouched = original.copy()
    untouched[face] = mosaic[face]  # the region restored, the face mosaic left as it was
    scorer = FrameScorer((1.0,))
    scorer.add(original, mosaic, untouched, region, region, face)
    left = scorer.result()
    assert left["restored"]["psnr_mask"] >= 100  # the region alone is the true mask
    assert left["faces"]["mosaic_pixels"] == face.sum()
    assert left["faces"]["psnr_vs_input"] >= 100 and left["faces"]["detected_share"] == 0.0
    restored_too = original.copy()  # a restore that also "restored" the face
    other = FrameScorer((1.0,))
    other.add(original, mosaic, restored_too, region, region | face, face)
    assert other.result()["faces"]["psnr_vs_input"] < 20
    assert other.result()["faces"]["detected_share"] == 1.0
    merged = scorer.merged(other).result()["faces"]
    assert merged["mosaic_pixels"] == 2 * face.sum() and merged["detected_share"] == 0.5
    plain = FrameScorer((1.0,))
    plain.add(original, mosaic, untouched, region, region)
    assert plain.result()["faces"] == {
        "mosaic_pixels": 0,
        "detected_share": None,
        "psnr_vs_input": None,
    }
