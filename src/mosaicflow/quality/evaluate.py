"""The source-quality scores of the clips against the demo world's degraded scenes.

A clip is degraded when most of its frames lie in a scene the world rendered degraded
(``scenes[].degraded`` of the truth JSON). The clip's ``1 - source_quality`` should rank the
degraded clips first: area under the ROC curve, from five crops and from one resize, over the
test videos' clips and over every clip (with bootstrap intervals over the clips, degraded and
clean ones resampled apart), and per degradation kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow.bootstrap import auroc_interval
from mosaicflow.formats.truth import degraded_frames
from mosaicflow.io import read_json
from mosaicflow.quality.roc import auroc


def clip_truth(manifest: Path, truth_json: Path, role: str) -> pd.DataFrame:
    """One row per analysed clip of a video: its scores and its scene's degradation (or "")."""
    truth = read_json(truth_json)
    kinds = degraded_frames(truth["scenes"], int(truth["frames"]))
    rows = []
    for record in read_json(manifest)["clips"]:
        found = record.get("analysers") or {}
        if found.get("source_quality") is None:
            continue
        span = range(int(record["frame_start"]), int(record["frame_end"]) + 1)
        votes = Counter(kinds[f] for f in span if f < len(kinds))
        kind, _ = votes.most_common(1)[0] if votes else (None, 0)
        rows.append(
            {
                "video": record["video"],
                "role": role,
                "clip": record["clip"],
                "status": record["status"],
                "degraded": kind or "",
                "source_quality": float(found["source_quality"]),
                "source_quality_resize": float(found["source_quality_resize"]),
            }
        )
    return pd.DataFrame(rows)


def _auroc_ci95(positive: np.ndarray, score: np.ndarray) -> list[float] | None:
    """Bootstrap interval of :func:`auroc` over the clips (None with one class only)."""
    if positive.all() or not positive.any():
        return None
    return auroc_interval(positive, score).bounds()


def _scores(table: pd.DataFrame) -> dict[str, Any]:
    degraded = (table["degraded"] != "").to_numpy()
    five = -table["source_quality"].to_numpy()
    resize = -table["source_quality_resize"].to_numpy()
    by_kind = {}
    for kind in sorted(set(table["degraded"]) - {""}):
        pick = ((table["degraded"] == kind) | ~degraded).to_numpy()
        by_kind[kind] = {
            "clips": int((table["degraded"] == kind).sum()),
            "auroc_five_crops": auroc(degraded[pick], five[pick]),
            "auroc_resize": auroc(degraded[pick], resize[pick]),
        }
    flagged = table["source_quality"].to_numpy() < 0.5
    return {
        "clips": len(table),
        "degraded_clips": int(degraded.sum()),
        "auroc_five_crops": auroc(degraded, five),
        "auroc_five_crops_ci95": _auroc_ci95(degraded, five),
        "auroc_resize": auroc(degraded, resize),
        "auroc_resize_ci95": _auroc_ci95(degraded, resize),
        "at_0.5": {
            "recall": round(float(flagged[degraded].mean()), 4) if degraded.any() else None,
            "precision": round(float(degraded[flagged].mean()), 4) if flagged.any() else None,
        },
        "by_kind": by_kind,
    }


def score_against_truth(
    manifests: Mapping[str, Path],
    truths: Mapping[str, Path],
    roles: Mapping[str, str],
    card: Mapping[str, Any],
) -> dict[str, Any]:
    """Metrics of the clips of every video with a truth JSON: ``test`` (the test videos' clips),
    ``held_out`` (the validation and test videos') and ``all``, beside the classifier card's own
    validation.

    Args:
        manifests: video id -> its clip manifest.
        truths: video id -> its world truth JSON (videos without one are left out).
        roles: video id -> role.
        card: the classifier's card (rule train_quality_classifier); empty for given weights.
    """
    tables = [
        clip_truth(Path(manifests[vid]), Path(truths[vid]), roles.get(vid, ""))
        for vid in sorted(truths)
        if vid in manifests
    ]
    table = pd.concat([t for t in tables if not t.empty] or [pd.DataFrame()], ignore_index=True)
    if table.empty:
        none = {"clips": 0}
        return {"test": none, "held_out": none, "all": none, "card": card.get("val")}
    test = table[table["role"] == "test"]
    held_out = table[table["role"].isin(["val", "test"])]
    return {
        "test": _scores(test) if len(test) else {"clips": 0},
        "held_out": _scores(held_out) if len(held_out) else {"clips": 0},
        "all": _scores(table),
        "mean_quality": {
            "clean": round(float(np.mean(table.loc[table["degraded"] == "", "source_quality"])), 4)
            if (table["degraded"] == "").any()
            else None,
            "degraded": round(
                float(np.mean(table.loc[table["degraded"] != "", "source_quality"])), 4
            )
            if (table["degraded"] != "").any()
            else None,
        },
        "card": card.get("val"),
    }
