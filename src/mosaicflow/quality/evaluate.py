"""The source-quality scores against the demo world's degraded scenes.

A clip is degraded when most of its frames lie in a scene the world rendered degraded
(``scenes[].degraded`` of the truth JSON). The clip's ``1 - source_quality`` should rank the
degraded clips first: area under the ROC curve, from five crops and from one resize, over the
test videos' clips and over every clip (with bootstrap intervals over the clips, degraded and
clean ones resampled apart), and per degradation kind. The world's ``quality`` videos are
scored the same way scene by scene (:func:`scene_scores`): every scene is an item, so many
degraded scenes of every kind measure the classifier, not the few a test video's clips hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow.bootstrap import auroc_interval
from mosaicflow.formats.truth import degraded_frames
from mosaicflow.io import read_json
from mosaicflow.quality.roc import auroc
from mosaicflow.quality.survey import spread_frames
from mosaicflow.video.decode import iter_frames

#: Frames of each scene of a ``quality`` video the classifier scores, spread evenly over it.
SCENE_FRAMES = 8


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


def scene_frames(start: int, end: int, count: int = SCENE_FRAMES) -> list[int]:
    """``count`` frame numbers spread evenly over ``[start, end)`` (all of them if fewer)."""
    if end <= start:
        return []
    return [start + f for f in spread_frames(end - start, count, margin=0.0)]


def scene_scores(
    video: Path,
    truth_json: Path,
    score: Callable[[np.ndarray], tuple[float, float]],
    frames: int = SCENE_FRAMES,
) -> pd.DataFrame:
    """One row per scene of a world video: its degradation (or "") and the mean P(clean) of
    ``frames`` of its frames, from five crops and from one resize (``score``: the scorer's
    :meth:`~mosaicflow.quality.score.QualityScorer.scores`)."""
    truth = read_json(truth_json)
    scenes = truth["scenes"]
    wanted = {
        int(scene["id"]): scene_frames(int(scene["start"]), int(scene["end"]), frames)
        for scene in scenes
    }
    found = {
        n: score(rgb)
        for n, rgb in iter_frames(video, sorted(set().union(*wanted.values())), threads=1)
    }
    rows = []
    for scene in scenes:
        picked = [found[n] for n in wanted[int(scene["id"])] if n in found]
        if not picked:
            raise ValueError(f"{video}: no frame of scene {scene['id']} decoded")
        degradation = scene.get("degraded") or {}
        rows.append(
            {
                "video": str(truth.get("name", Path(truth_json).stem)),
                "scene": int(scene["id"]),
                "frames": len(picked),
                "degraded": str(degradation.get("kind", "")),
                "source_quality": round(float(np.mean([p[0] for p in picked])), 6),
                "source_quality_resize": round(float(np.mean([p[1] for p in picked])), 6),
            }
        )
    return pd.DataFrame(rows)


def scenes_table(
    videos: Sequence[Path],
    truths: Sequence[Path],
    score: Callable[[np.ndarray], tuple[float, float]],
) -> pd.DataFrame:
    """:func:`scene_scores` of every video, in order."""
    tables = [scene_scores(v, t, score) for v, t in zip(videos, truths, strict=True)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _auroc_ci95(positive: np.ndarray, score: np.ndarray) -> list[float] | None:
    """Bootstrap interval of :func:`auroc` over the clips (None with one class only)."""
    if positive.all() or not positive.any():
        return None
    return auroc_interval(positive, score).bounds()


def _scores(table: pd.DataFrame, items: str = "clips") -> dict[str, Any]:
    degraded = (table["degraded"] != "").to_numpy()
    five = -table["source_quality"].to_numpy()
    resize = -table["source_quality_resize"].to_numpy()
    by_kind = {}
    for kind in sorted(set(table["degraded"]) - {""}):
        pick = ((table["degraded"] == kind) | ~degraded).to_numpy()
        by_kind[kind] = {
            items: int((table["degraded"] == kind).sum()),
            "auroc_five_crops": auroc(degraded[pick], five[pick]),
            "auroc_resize": auroc(degraded[pick], resize[pick]),
        }
    flagged = table["source_quality"].to_numpy() < 0.5
    return {
        items: len(table),
        f"degraded_{items}": int(degraded.sum()),
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
    scenes: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Metrics of the clips of every video with a truth JSON: ``test`` (the test videos' clips),
    ``held_out`` (the validation and test videos') and ``all``, beside the classifier card's own
    validation, and ``scenes``, those of the world's ``quality`` videos scene by scene.

    Args:
        manifests: video id -> its clip manifest.
        truths: video id -> its world truth JSON (videos without one are left out).
        roles: video id -> role.
        card: the classifier's card (rule train_quality_classifier); empty for given weights.
        scenes: :func:`scenes_table` of the ``quality`` videos (None or empty: none).
    """
    by_scene = _scores(scenes, "scenes") if scenes is not None and len(scenes) else {"scenes": 0}
    tables = [
        clip_truth(Path(manifests[vid]), Path(truths[vid]), roles.get(vid, ""))
        for vid in sorted(truths)
        if vid in manifests
    ]
    table = pd.concat([t for t in tables if not t.empty] or [pd.DataFrame()], ignore_index=True)
    if table.empty:
        none = {"clips": 0}
        return {
            "test": none,
            "held_out": none,
            "all": none,
            "scenes": by_scene,
            "card": card.get("val"),
        }
    test = table[table["role"] == "test"]
    held_out = table[table["role"].isin(["val", "test"])]
    return {
        "test": _scores(test) if len(test) else {"clips": 0},
        "held_out": _scores(held_out) if len(held_out) else {"clips": 0},
        "all": _scores(table),
        "scenes": by_scene,
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
