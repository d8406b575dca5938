"""The source-quality classifier on the demo run: trained on the clean training videos, it finds
the degraded scenes the world rendered into the validation and test videos (re-encoded at a
very high CRF, blurred, upscaled from a low resolution), scoring five crops at full resolution,
and every clip and detection sample carries its score."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

#: Clip-level AUROC of ``1 - source_quality`` on the demo's test videos: the issue's bar. The
#: demo gives 1.000 on the 2-core Zen 4; with 3 degraded clips among 15 the floor allows one of
#: the 36 degraded-clean pairs misordered (another CPU's kernels train other weights).
TEST_AUROC = 0.95
#: The same over the clips of the validation and test videos: 1.000 (3 degraded among 26).
HELD_OUT_AUROC = 0.9
#: Five crops above one resize by at least this (1.000 against 0.583 on the test videos).
CROPS_OVER_RESIZE = 0.2


def _metrics(demo_results):
    return json.loads((demo_results / "metrics" / "source_quality.json").read_text())


def test_degraded_test_clips_rank_below_clean_ones(demo_results):
    metrics = _metrics(demo_results)
    test = metrics["test"]
    assert test["degraded_clips"] >= 2 and test["clips"] - test["degraded_clips"] >= 5, test
    assert test["auroc_five_crops"] >= TEST_AUROC, test
    held_out = metrics["held_out"]
    assert held_out["auroc_five_crops"] >= HELD_OUT_AUROC, held_out
    # five crops at full resolution see what one resize of the whole frame averages away
    for scores in (test, held_out):
        assert scores["auroc_five_crops"] >= scores["auroc_resize"] + CROPS_OVER_RESIZE, scores


def test_the_card_measures_the_classifier_on_held_out_frames(demo_results):
    card = json.loads((demo_results / "models" / "quality" / "card.json").read_text())
    assert card["train_videos"] and set(card["train_videos"]).isdisjoint(card["val_videos"])
    assert all(v.startswith("world-train-") for v in card["train_videos"])
    val = card["val"]
    assert val["frames"] > 0 and val["auroc_five_crops"] >= 0.9, val
    assert card["curve"][-1]["loss"] < card["curve"][0]["loss"]
    assert _metrics(demo_results)["card"] == val


def test_every_clip_and_detection_sample_has_a_source_quality(demo_results):
    index = pd.read_parquet(demo_results / "restoration_dataset" / "index.parquet")
    analysed = index[index["status"] != "skipped"]
    assert len(analysed) > 0
    values = analysed["source_quality"].to_numpy(np.float64)
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    assert np.isfinite(analysed["source_quality_resize"].to_numpy(np.float64)).all()
    samples = pd.read_parquet(demo_results / "detection_dataset" / "samples.parquet")
    quality = samples["source_quality"].to_numpy(np.float64)
    assert len(quality) > 0 and np.isfinite(quality).all()
