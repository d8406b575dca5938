"""The likely-false ranking: confidence first, then a model of the verdicts, cleanlab's flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mosaicflow.curate.clip_ranking import (
    average_precision,
    rank_clips,
    ranking_metrics,
    simulate_review,
)
from mosaicflow.curate.clip_signals import signals_frame
from mosaicflow.curate.config import ReviewConfig
from mosaicflow.curate.verdicts import DROP, KEEP

CONFIG = ReviewConfig(min_verdicts=3, folds=4)


def synthetic(n_videos: int = 6, per_video: int = 12, seed: int = 0) -> pd.DataFrame:
    """Clips whose falseness shows in the watermark share, not in the confidence."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_videos):
        for c in range(per_video):
            false = c % 4 == 0
            rows.append(
                {
                    "clip": f"v{v}-{c:06d}",
                    "video": f"v{v}",
                    "frames": 12,
                    "conf_mean": rng.uniform(0.4, 0.9),
                    "conf_min": rng.uniform(0.3, 0.4),
                    "detected_share": 1.0,
                    "box_jitter": rng.uniform(0, 0.05),
                    "area_cv": rng.uniform(0, 0.1),
                    "id_switches": 0.0,
                    "watermark": rng.uniform(0.7, 1.0) if false else rng.uniform(0, 0.3),
                    "blockiness": rng.uniform(0, 0.1),
                    "quality": rng.uniform(0.4, 0.6),
                    "truth_false": float(false),
                }
            )
    return signals_frame(rows)


def verdicts_for(table: pd.DataFrame, clips) -> pd.DataFrame:
    truth = table.set_index("clip")["truth_false"]
    return pd.DataFrame(
        {"clip": list(clips), "verdict": [DROP if truth[c] else KEEP for c in clips]}
    )


def test_without_verdicts_the_least_confident_come_first():
    table = synthetic()
    ranked, summary = rank_clips(table, None, CONFIG, seed=0)
    assert summary["method"] == "confidence"
    assert ranked["conf_mean"].is_monotonic_increasing
    assert ranked["rank"].tolist() == list(range(1, len(table) + 1))
    assert not ranked["reviewed"].any() and not ranked["verdict_issue"].any()
    assert ranked["likely_false"].between(0, 1).all()
    assert "conf_mean" in ranked.iloc[0]["reasons"]
    assert summary["features"] and "nudenet" not in summary["features"]  # all NaN: unused


def test_verdicts_teach_the_model_what_false_looks_like():
    table = synthetic()
    reviewed = table[table["video"].isin(["v0", "v1", "v2"])]["clip"]
    ranked, summary = rank_clips(table, verdicts_for(table, reviewed), CONFIG, seed=0)
    assert summary["method"] == "model" and summary["verdicts"] == {KEEP: 27, DROP: 9}
    open_ = ranked[~ranked["reviewed"]]
    truth = open_["truth_false"].to_numpy() > 0.5
    assert average_precision(truth, open_["likely_false"].to_numpy()) == pytest.approx(1.0)
    conf = average_precision(truth, -open_["conf_mean"].to_numpy())
    assert conf < 0.6
    assert "watermark" in ranked.iloc[0]["reasons"]
    # the same inputs give the same table
    again, _ = rank_clips(table, verdicts_for(table, reviewed), CONFIG, seed=0)
    pd.testing.assert_frame_equal(ranked, again)


def test_cleanlab_flags_a_verdict_that_contradicts_the_others():
    table = synthetic()
    reviewed = list(table[table["video"].isin(["v0", "v1", "v2", "v3"])]["clip"])
    verdicts = verdicts_for(table, reviewed)
    wrong = "v1-000000"  # a false clip (watermarked) that the reviewer kept
    verdicts.loc[verdicts["clip"] == wrong, "verdict"] = KEEP
    sharp = ReviewConfig(min_verdicts=3, folds=4, regularisation=100.0)
    ranked, summary = rank_clips(table, verdicts, sharp, seed=0)
    assert wrong in summary["verdict_issues"]
    assert len(summary["verdict_issues"]) <= 3
    assert ranked.set_index("clip").loc[wrong, "verdict"] == KEEP


def test_a_verdict_for_another_version_of_a_clip_is_ignored():
    table = synthetic()
    table["clip_sha256"] = pd.Series(["a" * 64] * len(table), dtype="string")
    reviewed = table[table["video"].isin(["v0", "v1", "v2"])]["clip"]
    verdicts = verdicts_for(table, reviewed)
    verdicts["clip_sha256"] = "a" * 64
    verdicts.loc[verdicts["clip"] == "v0-000000", "clip_sha256"] = "b" * 64
    ranked, summary = rank_clips(table, verdicts, CONFIG, seed=0)
    row = ranked.set_index("clip").loc["v0-000000"]
    assert not row["reviewed"] and pd.isna(row["verdict"])
    assert summary["verdicts"] == {KEEP: 27, DROP: 8}


def test_too_few_verdicts_keep_the_confidence_ranking():
    table = synthetic()
    verdicts = verdicts_for(table, ["v0-000000", "v0-000001"])
    ranked, summary = rank_clips(table, verdicts, CONFIG, seed=0)
    assert summary["method"] == "confidence" and ranked["reviewed"].sum() == 2


def test_verdicts_from_one_video_fit_without_out_of_fold_scores():
    table = synthetic()
    reviewed = table[table["video"] == "v0"]["clip"]
    _, summary = rank_clips(table, verdicts_for(table, reviewed), CONFIG, seed=0)
    assert summary["method"] == "model" and summary["verdict_issues"] == []


def test_simulated_review_rounds_improve_the_ranking():
    table = synthetic()
    rounds = simulate_review(table, k=20, rounds=2, config=CONFIG, seed=0)
    assert [r["reviewed"] for r in rounds] == [0, 20, 40]
    assert rounds[0]["method"] == "confidence" and rounds[1]["method"] == "model"
    assert rounds[1]["average_precision"] > rounds[0]["average_precision"] + 0.2
    metrics = ranking_metrics(rank_clips(table, None, CONFIG, seed=0)[0], table, 20, CONFIG,
                              seed=0)  # fmt: skip
    assert metrics["false_clips"] == 18 and metrics["clips_with_truth"] == 72
    assert metrics["average_precision"] == metrics["average_precision_confidence"]
    # every clip reviewed: each scored out of fold, at least as good as two rounds of review
    every = metrics["average_precision_every_verdict"]
    assert every >= metrics["review_rounds"][1]["average_precision"] - 0.05, metrics
    assert every > metrics["average_precision_confidence"] + 0.2


def test_no_truth_no_metrics_and_no_positive_no_precision():
    table = synthetic()
    table["truth_false"] = np.nan
    assert ranking_metrics(rank_clips(table, None, CONFIG, seed=0)[0], table, 5, CONFIG,
                           seed=0) == {}  # fmt: skip
    assert average_precision(np.zeros(3, bool), np.ones(3)) is None


def test_config_is_checked():
    with pytest.raises(ValueError, match="min_verdicts"):
        ReviewConfig(min_verdicts=1)


def test_the_clips_of_dropped_duplicate_videos_are_not_ranked(tmp_path):
    from mosaicflow.curate.clip_jobs import rank_dataset
    from mosaicflow.io import write_parquet

    table = synthetic(n_videos=3)
    paths = []
    for video, part in table.groupby("video"):
        paths.append(tmp_path / f"{video}.parquet")
        write_parquet(paths[-1], part.assign(clip_sha256="x", nudenet=np.nan))
    groups = pd.DataFrame(
        {"video": ["v0", "v1", "v2"], "group": ["v0", "v0", "v2"], "kept": [True, False, True],
         "duplicate_of": ["", "v0", ""], "overlap": [0.0, 0.9, 0.0],
         "reason": ["", "duplicate", ""]}
    )  # fmt: skip
    write_parquet(tmp_path / "duplicates.parquet", groups)
    ranked_out, metrics = tmp_path / "ranked.parquet", tmp_path / "review.json"
    kw = {"seed": 0, "duplicates": tmp_path / "duplicates.parquet"}
    rank_dataset(paths, None, CONFIG, ranked_out, metrics, **kw)
    ranked = pd.read_parquet(ranked_out)
    assert set(ranked["video"]) == {"v0", "v2"} and len(ranked) == 24
    rank_dataset(paths, None, CONFIG, ranked_out, metrics, seed=0)
    assert set(pd.read_parquet(ranked_out)["video"]) == {"v0", "v1", "v2"}
