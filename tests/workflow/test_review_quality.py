"""Clip triage on the demo run: the ranking finds the false clips (scored against the demo
truth), and a review round trip through a Label Studio export drops them from training and
reruns only what depends on the clip index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mosaicflow.curate.clip_ranking import SUSPICIOUS, average_precision
from tests.helpers import copy_run, planned_jobs, run_snakemake
from tests.unit.curate.test_review import label_studio_export

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

#: Measured on the demo (Zen 5): confidence alone 0.382; after one simulated round of 50 reviewed
#: clips 0.762, after two 0.839; with every clip's verdict, out of fold, 0.860 (the issue's bar is
#: 0.8; docs/experiments/clip-triage.md). A round's figure moves by a few hundredths with the clips
#: it happens to review, so its floor leaves other CPUs' weights a margin. Round 1 is held to the
#: share of the confidence ranking's shortfall from a perfect ranking (AP 1) that it closes: the
#: confidence ranking moves with the segmenter's last bits (0.382 on AVX-512 EPYCs, 0.454 on a
#: Xeon with AMX), and a fixed gain over it would ask more of a better baseline. Measured: 0.61
#: (Zen 5); with the plain least-squares motion fit 0.56 (Zen 4), 0.50 (Zen 5), 0.27 (Xeon, AMX).
ROUND1_GAP_CLOSED = 0.35
ROUND2_FLOOR = 0.7
EVERY_VERDICT_FLOOR = 0.8
#: AP of a low ``motion_residual`` alone for the false clips (0.714 on the demo): the rigid
#: look-alikes move as one piece, the targets bend.
MOTION_ALONE_FLOOR = 0.6
#: What a new verdicts table reruns: the index and everything downstream of it, the ranking.
RERUN_AFTER_IMPORT = {
    "index_restoration_dataset",
    "draw_restoration_sheets",
    "evaluate_restoration_dataset",
    "balance_clips",
    "rank_clips",
    "export_review",
    "train_restoration_stage1",
    "convert_restoration",
    "train_restoration_stage2",
    "export_restoration",
    "restore_test_video",
    "evaluate_restoration",
    "plot_training_curves",
    "gather_metrics",
    "all",
}


def signal_table(ranked: pd.DataFrame) -> str:
    """Per signal: the share of clips with a value, its AP alone for the false clips (in its
    suspicious direction) and its median over the false and the true clips. Printed with a
    failed bar, so that a CPU kind's run says which signals carried nothing there."""
    truth = ranked["truth_false"].to_numpy() > 0.5
    lines = ["signal: valued, AP alone, median false / true"]
    for name, direction in SUSPICIOUS.items():
        if name not in ranked:
            continue
        values = ranked[name].astype(float)
        filled = values.fillna(values.median() if values.notna().any() else 0.0).to_numpy()
        alone = average_precision(truth, direction * filled)
        medians = (values[truth].median(), values[~truth].median())
        lines.append(f"{name}: {values.notna().mean():.2f}, {alone}, {medians[0]:.4g} / "
                     f"{medians[1]:.4g}")  # fmt: skip
    return "\n".join(lines)


def test_ranking_beats_confidence_after_a_review_round(demo_results: Path):
    metrics = json.loads((demo_results / "metrics" / "review.json").read_text())
    assert metrics["method"] == "confidence"  # the demo has no verdicts
    assert metrics["false_clips"] >= 20 and metrics["clips_with_truth"] >= 200
    rounds = metrics["review_rounds"]
    confidence = metrics["average_precision_confidence"]
    assert rounds[0]["average_precision"] == pytest.approx(confidence)
    assert rounds[1]["method"] == "model" and rounds[1]["reviewed"] == metrics["top_k"]
    closed = (rounds[1]["average_precision"] - confidence) / (1.0 - confidence)
    ranked = pd.read_parquet(demo_results / "review" / "ranked.parquet")
    signals = signal_table(ranked)
    assert closed >= ROUND1_GAP_CLOSED, (closed, rounds, signals)
    assert rounds[2]["average_precision"] >= ROUND2_FLOOR, (rounds, signals)
    assert metrics["average_precision_every_verdict"] >= EVERY_VERDICT_FLOOR, (metrics, signals)
    assert ranked["truth_false"].sum() == metrics["false_clips"]
    tasks = json.loads((demo_results / "review" / "export" / "tasks.json").read_text())
    assert [t["data"]["clip"] for t in tasks] == ranked["clip"].head(len(tasks)).tolist()


def test_rigid_motion_alone_finds_the_look_alikes(demo_results: Path):
    ranked = pd.read_parquet(demo_results / "review" / "ranked.parquet")
    motion = ranked["motion_residual"].astype(float)
    assert motion.notna().mean() > 0.95, motion.describe()
    truth = ranked["truth_false"].to_numpy() > 0.5
    alone = average_precision(truth, -motion.fillna(motion.median()).to_numpy())
    metrics = json.loads((demo_results / "metrics" / "review.json").read_text())
    confidence = metrics["average_precision_confidence"]
    assert alone >= MOTION_ALONE_FLOOR and alone > confidence, (alone, confidence)


def _import(work: Path, export: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mosaicflow.cli", "review", "import", str(export),
         "--results", str(work / "results")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout


def test_review_round_trip_on_the_demo(demo_results: Path, tmp_path: Path):
    work = copy_run(demo_results, tmp_path / "run")
    assert planned_jobs(run_snakemake(work, "-n").stdout) == {}
    tasks = json.loads((work / "results" / "review" / "export" / "tasks.json").read_text())
    ranked = pd.read_parquet(work / "results" / "review" / "ranked.parquet").set_index("clip")
    verdicts = {
        t["data"]["clip"]: "drop" if ranked.loc[t["data"]["clip"], "truth_false"] else "keep"
        for t in tasks
    }
    export = tmp_path / "project-1-at-2026-11-26.json"
    export.write_text(json.dumps(label_studio_export(tasks, verdicts)))
    assert "verdicts version 1" in _import(work, export)
    plan = planned_jobs(run_snakemake(work, "-n").stdout)
    assert set(plan) == RERUN_AFTER_IMPORT, plan
    # a second import of the same export writes nothing: the plan stays the same
    assert "no change" in _import(work, export)
    assert planned_jobs(run_snakemake(work, "-n").stdout) == plan
    # the index drops exactly the dropped clips; the next ranking learns from the verdicts
    targets = ("results/restoration_dataset/index.parquet", "results/review/ranked.parquet")
    run_snakemake(work, "--", *targets)
    index = pd.read_parquet(work / "results" / "restoration_dataset" / "index.parquet")
    drops = sorted(c for c, v in verdicts.items() if v == "drop")
    assert sorted(index.loc[index["reason"] == "review", "clip"]) == drops
    assert not index.set_index("clip").loc[drops, "kept"].any()
    summary = json.loads((work / "results" / "metrics" / "review.json").read_text())
    assert summary["method"] == "model"
    assert summary["verdicts"] == {"keep": len(verdicts) - len(drops), "drop": len(drops)}
    # the new ranking carries each imported verdict on its clip, and no other clip has one
    reranked = pd.read_parquet(work / "results" / "review" / "ranked.parquet").set_index("clip")
    assert reranked["reviewed"].sum() == len(verdicts)
    assert reranked.loc[sorted(verdicts), "verdict"].tolist() == [
        verdicts[c] for c in sorted(verdicts)
    ]
    assert reranked.loc[~reranked["reviewed"], "verdict"].isna().all()
