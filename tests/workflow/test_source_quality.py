"""The source-quality classifier on the demo run: trained on the clean training videos, it finds
the degraded scenes the world rendered into its quality videos (re-encoded at a very high CRF,
blurred, upscaled from a low resolution), scoring five crops at full resolution, and every clip
and detection sample carries its score."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mosaicflow.provenance import file_hash
from mosaicflow.quality.base import BASE_DIR

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

#: Scene-level AUROC of ``1 - P(clean)`` over the scenes of the world's quality videos: the
#: issue's bar. The demo gives 0.9996 [0.9986, 1.000] on 240 scenes (97 degraded) on the Zen 4.
SCENES_AUROC = 0.95
#: Degraded scenes of the quality videos at least, and clean ones: one scene moved across the
#: whole ranking then moves the AUROC by at most 1/80 = 0.0125, a quarter of the distance from
#: the floor to 1. Each kind at least :data:`KIND_SCENES` times.
DEGRADED_SCENES = 80
KIND_SCENES = 20
#: AUROC of the card's held-out frames, each scored clean and with each training degradation
#: (mild ones included), every one re-encoded at CRF 16-30 afterwards: 0.838 [0.786, 0.888] on the
#: Zen 4 (a classifier trained without the re-encode scores 0.681 there).
CARD_AUROC = 0.75
#: Five crops above one resize by at least this, scene by scene (AUROC difference). The resize's
#: AUROC follows the classifier's last bits: the difference is 0.389 [0.320, 0.464] on the Zen 4
#: and 0.213 [0.158, 0.273] on the Zen 3 (docs/benchmarks.md); one scene moves it by 0.010.
CROPS_OVER_RESIZE = 0.1


def _metrics(demo_results):
    return json.loads((demo_results / "metrics" / "source_quality.json").read_text())


def test_degraded_scenes_of_the_quality_videos_rank_below_clean_ones(demo_results):
    scenes = _metrics(demo_results)["scenes"]
    degraded = scenes["degraded_scenes"]
    assert degraded >= DEGRADED_SCENES and scenes["scenes"] - degraded >= DEGRADED_SCENES, scenes
    assert set(scenes["by_kind"]) == {"codec", "blur", "upscale"}, scenes["by_kind"]
    assert all(kind["scenes"] >= KIND_SCENES for kind in scenes["by_kind"].values()), scenes
    assert scenes["auroc_five_crops"] >= SCENES_AUROC, scenes
    # five crops at full resolution see what one resize of the whole frame averages away
    assert scenes["auroc_five_crops"] >= scenes["auroc_resize"] + CROPS_OVER_RESIZE, scenes
    table = pd.read_parquet(demo_results / "evaluate" / "source_quality_scenes.parquet")
    assert len(table) == scenes["scenes"] and (table["frames"] >= 2).all()


def test_the_clips_carry_the_scores_of_their_sources(demo_results):
    """The clips of the validation and test videos hold 3-4 degraded ones: too few to bound an
    AUROC (one clip moves it by a third); their scores must still put the degraded clips below
    the clean ones on average."""
    metrics = _metrics(demo_results)
    held_out = metrics["held_out"]
    assert held_out["degraded_clips"] >= 2 and held_out["clips"] - held_out["degraded_clips"] >= 5
    mean = metrics["mean_quality"]
    assert mean["degraded"] < mean["clean"], mean


def test_the_card_measures_the_classifier_on_held_out_frames(demo_results):
    card = json.loads((demo_results / "models" / "quality" / "card.json").read_text())
    assert card["train_videos"] and set(card["train_videos"]).isdisjoint(card["val_videos"])
    assert all(v.startswith("world-train-") for v in card["train_videos"])
    val = card["val"]
    assert val["frames"] > 0 and val["auroc_five_crops"] >= CARD_AUROC, val
    low, high = val["auroc_five_crops_ci95"]
    assert low <= val["auroc_five_crops"] <= high
    # each point is the mean loss of 50 steps; chance is ln(5) = 1.61 for five balanced classes.
    # Fine-tuned from the base, the curve starts low and need not fall: it must end well below
    # chance, and the card names the start by content.
    assert card["curve"][-1]["loss"] < math.log(len(card["classes"])) / 2, card["curve"][-5:]
    start = card["config"]["init_weights"]
    assert start == {"file": "quality.pt", "sha256": file_hash(BASE_DIR / "quality.pt", 64)}
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
