"""One "likely false" score per clip, the reasons, and the verdicts that look wrong (rule
rank_clips).

Before any review, the score is ``1 - conf_mean``: the segmenter's own doubt. Once review
verdicts exist (:mod:`.review_import`), a logistic regression over the standardised signals of
:mod:`.clip_signals` learns from them what a false clip looks like in this dataset (the
signals' directions differ between datasets, so no fixed rule weighs them): reviewed clips get
out-of-fold probabilities (folds grouped by video, so a clip is never scored by a model that
saw its own video), the others the model fitted on every verdict. cleanlab's
``find_label_issues`` over the out-of-fold probabilities flags the verdicts the model
disagrees with most (a second look for the reviewer).

On videos with ground truth (the demo world) :func:`ranking_metrics` scores the ranking with
average precision for the truly false clips, next to the confidence-only ranking, and
simulates review rounds with the truth as the reviewer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow.curate.clip_signals import SIGNALS
from mosaicflow.curate.config import ReviewConfig
from mosaicflow.curate.verdicts import DROP, KEEP

LOG = logging.getLogger(__name__)

#: Signal -> direction in which a value looks suspicious (+1: high, -1: low), for the reasons.
SUSPICIOUS: Mapping[str, int] = {
    "conf_mean": -1,
    "conf_min": -1,
    "contrast_drop": -1,
    "detected_share": -1,
    "box_jitter": 1,
    "area_cv": 1,
    "shape_change": -1,
    "motion_residual": -1,
    "id_switches": 1,
    "watermark": 1,
    "blockiness": 1,
    "quality": -1,
    "nudenet": -1,
}
#: A signal is named as a reason when the clip lies in its suspicious tail of this share.
REASON_TAIL = 0.1


def _features(signals: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The usable signal columns (not all NaN, not constant), NaN filled with the median."""
    columns = []
    for name in SIGNALS:
        values = signals[name].astype("float64")
        if values.notna().any() and values.nunique(dropna=True) > 1:
            columns.append(name)
    if not columns:
        return np.zeros((len(signals), 0)), []
    table = signals[columns].astype("float64")
    return table.fillna(table.median()).to_numpy(), columns


def _model(config: ReviewConfig, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=config.regularisation, max_iter=2000, random_state=seed),
    )


def out_of_fold(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, config: ReviewConfig, seed: int
) -> np.ndarray | None:
    """Out-of-fold probabilities of class 1 (folds grouped by ``groups``), or None when the
    labels cannot be split so (fewer than two groups, or a fold without both classes)."""
    from sklearn.model_selection import GroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return None
    probs = np.full(len(y), np.nan)
    for train, test in GroupKFold(n_splits=min(config.folds, n_groups)).split(x, y, groups):
        if len(np.unique(y[train])) < 2:
            return None
        probs[test] = _model(config, seed).fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return probs


def _reasons(signals: pd.DataFrame) -> list[str]:
    """Per clip, the signals in whose suspicious tail it lies, as ``name value``."""
    tails: dict[str, pd.Series] = {}
    for name, direction in SUSPICIOUS.items():
        values = signals[name].astype("float64")
        if values.notna().sum() < 2 or values.nunique(dropna=True) < 2:
            continue
        tails[name] = (direction * values).rank(pct=True) > 1.0 - REASON_TAIL
    out = []
    for i in range(len(signals)):
        named = [f"{n} {signals[n].iloc[i]:.3g}" for n, tail in tails.items() if tail.iloc[i]]
        out.append(", ".join(named))
    return out


def rank_clips(
    signals: pd.DataFrame,
    verdicts: pd.DataFrame | None,
    config: ReviewConfig,
    *,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rank the clips, most likely false first.

    Args:
        signals: the signals table (:func:`~.clip_signals.read_signals`).
        verdicts: ``clip``, ``verdict`` (``keep``/``drop``) and ``clip_sha256`` of reviewed clips,
            or None; a verdict for another version of a clip (other hash) is ignored.
        config: the ranking settings.
        seed: the workflow seed.

    Returns:
        The ranked table (``rank`` from 1, ``likely_false`` in [0, 1], ``method``, ``reasons``,
        ``reviewed``, ``verdict``, ``verdict_issue``, the signals and ``truth_false``) and a
        summary (method, verdict counts, flagged verdicts).
    """
    table = signals.copy().reset_index(drop=True)
    verdict = pd.Series(pd.NA, index=table.index, dtype="string")
    if verdicts is not None and len(verdicts):
        lookup = verdicts.set_index("clip")
        verdict = table["clip"].map(lookup["verdict"]).astype("string")
        if "clip_sha256" in lookup.columns:  # a verdict holds only for the clip it judged
            given = table["clip"].map(lookup["clip_sha256"]).astype("string")
            current = table["clip_sha256"].astype("string")
            stale = given.notna() & current.notna() & (given != current)
            verdict = verdict.mask(stale.fillna(False).astype(bool))
    reviewed = verdict.notna().to_numpy()
    y = (verdict == DROP).fillna(False).to_numpy(bool)
    x, columns = _features(table)
    counts = {KEEP: int((reviewed & ~y).sum()), DROP: int((reviewed & y).sum())}
    score = 1.0 - table["conf_mean"].astype("float64").fillna(0.0).to_numpy()
    method = "confidence"
    issues = np.zeros(len(table), bool)
    if min(counts.values()) >= config.min_verdicts and columns:
        groups = table["video"].to_numpy()[reviewed]
        oof = out_of_fold(x[reviewed], y[reviewed], groups, config, seed)
        fitted = _model(config, seed).fit(x[reviewed], y[reviewed])
        score = fitted.predict_proba(x)[:, 1]
        method = "model"
        if oof is not None:
            score[reviewed] = oof
            from cleanlab.filter import find_label_issues

            probs = np.stack([1.0 - oof, oof], axis=1)
            issues[reviewed] = find_label_issues(y[reviewed].astype(int), probs)
        else:
            LOG.warning("verdicts from one video only: reviewed clips scored in-sample, no issues")
    elif reviewed.any():
        LOG.info(
            "%d keep / %d drop verdicts: fewer than %d of each, ranking by 1 - conf_mean",
            counts[KEEP], counts[DROP], config.min_verdicts,
        )  # fmt: skip
    table["likely_false"] = np.clip(score, 0.0, 1.0)
    table["method"] = method
    table["reasons"] = _reasons(table)
    table["reviewed"] = reviewed
    table["verdict"] = verdict
    table["verdict_issue"] = issues
    table = table.sort_values(
        ["likely_false", "clip"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    summary = {
        "clips": len(table),
        "method": method,
        "features": columns,
        "verdicts": counts,
        "verdict_issues": sorted(table.loc[table["verdict_issue"], "clip"].tolist()),
    }
    return table, summary


def average_precision(truth: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision of ``score`` for ``truth`` (None without a positive)."""
    from sklearn.metrics import average_precision_score

    if not truth.any():
        return None
    return round(float(average_precision_score(truth, score)), 6)


def truth_verdicts(clips: np.ndarray, false: np.ndarray) -> pd.DataFrame:
    """The verdicts a reviewer who knows the truth gives: drop the false clips, keep the rest."""
    return pd.DataFrame({"clip": clips, "verdict": np.where(false, DROP, KEEP)})


def review_round_scores(
    signals: pd.DataFrame, k: int, rounds: int, config: ReviewConfig, *, seed: int
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """Review rounds with the truth as the reviewer: each round reviews the top ``k`` unreviewed
    clips of the current ranking, then re-ranks. Yields per round (0 .. ``rounds``) its record
    (reviewed clips, false ones found, the ranking's average precision over all clips and over
    the unreviewed ones) and the ranking's score per clip of ``signals`` (in its row order)."""
    truth = signals["truth_false"].to_numpy() > 0.5
    verdicts = pd.DataFrame({"clip": pd.Series([], dtype="string"), "verdict": []})
    for round_no in range(rounds + 1):
        ranked, summary = rank_clips(signals, verdicts, config, seed=seed)
        order = (
            signals["clip"]
            .astype(str)
            .map(dict(zip(ranked["clip"].astype(str), ranked["likely_false"], strict=True)))
        )
        score = order.to_numpy(np.float64)
        open_ = ~signals["clip"].isin(verdicts["clip"]).to_numpy()
        record = {
            "round": round_no,
            "reviewed": int((~open_).sum()),
            "false_found": int((truth & ~open_).sum()),
            "method": summary["method"],
            "average_precision": average_precision(truth, score),
            "average_precision_unreviewed": average_precision(truth[open_], score[open_]),
        }
        yield record, score
        if round_no == rounds:
            break
        todo = ranked[~ranked["reviewed"]].head(k)["clip"].astype(str)
        judged = signals.set_index(signals["clip"].astype(str)).loc[todo, "truth_false"] > 0.5
        new = truth_verdicts(todo.to_numpy(), judged.to_numpy())
        verdicts = pd.concat([verdicts, new], ignore_index=True)


def simulate_review(
    signals: pd.DataFrame, k: int, rounds: int, config: ReviewConfig, *, seed: int
) -> list[dict[str, Any]]:
    """The records of :func:`review_round_scores`' rounds."""
    return [record for record, _ in review_round_scores(signals, k, rounds, config, seed=seed)]


def ranking_metrics(
    ranked: pd.DataFrame, signals: pd.DataFrame, k: int, config: ReviewConfig, *, seed: int
) -> dict[str, Any]:
    """Average precision for the truly false clips of the ranking, of the confidence-only
    ranking, of simulated review rounds, and of the ranking once every clip has its verdict
    (each scored out of fold: what a model over these signals can do); empty without ground
    truth."""
    known = ranked["truth_false"].notna()
    if not known.any():
        return {}
    truth = ranked.loc[known, "truth_false"].to_numpy() > 0.5
    judged = signals[signals["truth_false"].notna()].reset_index(drop=True)
    every = truth_verdicts(judged["clip"].astype(str).to_numpy(), judged["truth_false"] > 0.5)
    full, _ = rank_clips(judged, every, config, seed=seed)
    return {
        "clips_with_truth": int(known.sum()),
        "false_clips": int(truth.sum()),
        "average_precision": average_precision(truth, ranked.loc[known, "likely_false"].to_numpy()),
        "average_precision_confidence": average_precision(
            truth, -ranked.loc[known, "conf_mean"].astype("float64").fillna(0.0).to_numpy()
        ),
        "review_rounds": simulate_review(judged, k, 2, config, seed=seed),
        "average_precision_every_verdict": average_precision(
            full["truth_false"].to_numpy() > 0.5, full["likely_false"].to_numpy()
        ),
    }
