"""The source-quality AUROCs carry bootstrap intervals over the clips."""

from __future__ import annotations

import numpy as np

from mosaicflow.io import write_json
from mosaicflow.quality.evaluate import score_against_truth
from tests.unit.quality.test_quality import _clip


def test_aurocs_have_intervals_over_the_clips(tmp_path):
    scenes = [{"start": 10 * k, "end": 10 * k + 10, "degraded": None} for k in range(12)]
    for k in (1, 5, 9):
        scenes[k]["degraded"] = {"kind": "blur", "sigma": 2.0}
    write_json(tmp_path / "t.json", {"frames": 120, "scenes": scenes})
    rng = np.random.default_rng(0)
    clips = []
    for k, scene in enumerate(scenes):
        bad = scene["degraded"] is not None
        # five crops rank every degraded clip below the clean ones; one resize mixes them
        five = 0.1 + 0.1 * rng.random() if bad else 0.6 + 0.3 * rng.random()
        clips.append(_clip("a", k, 10 * k, 10 * k + 9, five, float(rng.random())))
    write_json(tmp_path / "m.json", {"clips": clips})
    test = score_against_truth(
        {"a": tmp_path / "m.json"}, {"a": tmp_path / "t.json"}, {"a": "test"}, {}
    )["test"]
    assert test["auroc_five_crops"] == 1.0 and test["auroc_five_crops_ci95"] == [1.0, 1.0]
    low, high = test["auroc_resize_ci95"]
    assert low < test["auroc_resize"] < high
    clean = [_clip("a", k, 10 * k, 10 * k + 9, 0.9, 0.9) for k in (0, 2)]
    write_json(tmp_path / "m.json", {"clips": clean})
    one_class = score_against_truth(
        {"a": tmp_path / "m.json"}, {"a": tmp_path / "t.json"}, {"a": "test"}, {}
    )["test"]
    assert one_class["auroc_five_crops"] is None and one_class["auroc_five_crops_ci95"] is None
