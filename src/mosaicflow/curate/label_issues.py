"""Label issues in the region training set: which labelme frames a reviewer should fix first.

The trained region segmenter looks at every labelme training frame; cleanlab's object-detection
scores (``cleanlab.object_detection``) compare its boxes with the labelled ones, per frame:

- *overlooked*: a confident prediction no label covers (a target left unlabelled);
- *bad location*: a label whose best matching prediction sits elsewhere (a polygon drawn beside
  its target);
- *swap*: a label whose class another class's prediction fits better.

cleanlab scores a box only against predictions it can match and above confidence thresholds it
derives from the whole set, so two plain disagreements go unscored on small sets: a label no
prediction of its class overlaps (a look-alike outlined as a target, a polygon moved off its
target) and a confident prediction no label overlaps (a target left unlabelled). The frame's
``quality`` is therefore the lowest of cleanlab's frame score, ``supported`` (per label, the
best confidence of a same-class prediction overlapping it at IoU >= :data:`SUPPORT_IOU`; the
lowest over the frame's labels) and ``labelled`` (one minus the highest confidence of a
prediction no same-class label overlaps). Frames are ranked by ``quality``, lowest first;
``issue`` marks those below the threshold.

The predictions come from the segmenter trained on these very labels, so they are in-sample:
a label the model has learned to repeat is not flagged. See docs/label-issues.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow.formats.labelme import LabelmeFrame, LabelmeShape

log = logging.getLogger(__name__)

#: Columns of ``label_issues.parquet``.
COLUMNS = (
    "rank", "labelme", "image", "labels", "predictions", "quality", "cleanlab_quality",
    "supported", "labelled", "issue", "reason",
)  # fmt: skip
#: A label counts as supported when a prediction of its class overlaps it at this IoU.
SUPPORT_IOU = 0.3


@dataclass(frozen=True)
class LabelIssuesConfig:
    """``label_issues``: the label-issue finder over the region training frames.

    Attributes:
        enabled: run rule find_label_issues.
        min_score: lowest prediction confidence handed to cleanlab.
        threshold: frames with ``quality`` below it are flagged.
        export: flagged frames (lowest quality first) written as labelme files for review.
    """

    enabled: bool = True
    min_score: float = 0.05
    threshold: float = 0.2
    export: int = 100

    def __post_init__(self) -> None:
        if not (0 <= self.min_score < 1 and 0 < self.threshold <= 1 and self.export >= 0):
            raise ValueError(
                "label_issues: min_score must be in [0, 1), threshold in (0, 1], export "
                f">= 0; got {self.min_score}, {self.threshold}, {self.export}"
            )


def shape_box(shape: LabelmeShape) -> np.ndarray:
    """``[x0, y0, x1, y1]`` of a labelme shape's polygon."""
    p = shape.polygon
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()], np.float64)


def label_boxes(frame: LabelmeFrame) -> dict[str, np.ndarray]:
    """cleanlab's label record of one frame: ``bboxes`` (L, 4) x0 y0 x1 y1 and ``labels``."""
    return {
        "bboxes": np.asarray([shape_box(s) for s in frame.shapes], np.float64).reshape(-1, 4),
        "labels": np.asarray([s.class_id for s in frame.shapes], np.int64),
    }


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU matrix (len(boxes), len(others)) of x0 y0 x1 y1 boxes."""
    a, b = boxes[:, None, :], others[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def _class_predictions(predictions: Sequence[np.ndarray], cls: int) -> np.ndarray:
    return predictions[cls] if cls < len(predictions) else np.zeros((0, 5))


def supported(labels: dict[str, np.ndarray], predictions: Sequence[np.ndarray]) -> float:
    """The least supported label's support: the best confidence of a same-class prediction
    overlapping it at IoU >= :data:`SUPPORT_IOU` (0 when none does); 1.0 without labels."""
    quality = 1.0
    for box, cls in zip(labels["bboxes"], labels["labels"], strict=True):
        preds = _class_predictions(predictions, int(cls))
        hits = preds[box_iou(box[None, :], preds[:, :4])[0] >= SUPPORT_IOU, 4] if len(preds) else []
        quality = min(quality, float(np.max(hits)) if len(hits) else 0.0)
    return quality


def labelled(labels: dict[str, np.ndarray], predictions: Sequence[np.ndarray]) -> float:
    """1 - the highest confidence of a prediction that no same-class label overlaps at IoU >=
    :data:`SUPPORT_IOU`; 1.0 when every prediction is covered."""
    quality = 1.0
    for cls, preds in enumerate(predictions):
        if not len(preds):
            continue
        own = labels["bboxes"][labels["labels"] == cls]
        covered = (
            (box_iou(preds[:, :4], own) >= SUPPORT_IOU).any(axis=1)
            if len(own)
            else np.zeros(len(preds), bool)
        )
        if (~covered).any():
            quality = min(quality, 1.0 - float(preds[~covered, 4].max()))
    return quality


def _lowest(scores: Any) -> float:
    values = np.asarray(scores, float)
    return float(np.nanmin(values)) if np.isfinite(values).any() else 1.0


def rank_frames(
    names: Sequence[tuple[str, str]],
    labels: Sequence[dict[str, np.ndarray]],
    predictions: Sequence[Sequence[np.ndarray]],
    threshold: float,
) -> pd.DataFrame:
    """Score every frame and rank them, lowest quality first.

    Args:
        names: ``(labelme file, image file)`` per frame.
        labels: :func:`label_boxes` per frame.
        predictions: per frame, per class, an (M, 5) array ``x0 y0 x1 y1 confidence``.
        threshold: frames with ``quality`` below it get ``issue``.

    Returns:
        One row per frame, the columns of :data:`COLUMNS`.
    """
    from cleanlab.object_detection import rank

    if not names:
        return pd.DataFrame({c: [] for c in COLUMNS})
    preds = [list(p) for p in predictions]
    lab = list(labels)
    cleanlab_quality = rank.get_label_quality_scores(lab, preds, verbose=False)
    overlooked = rank.compute_overlooked_box_scores(labels=lab, predictions=preds)
    badloc = rank.compute_badloc_box_scores(labels=lab, predictions=preds)
    swap = rank.compute_swap_box_scores(labels=lab, predictions=preds)
    rows = []
    for i, (labelme, image) in enumerate(names):
        parts = {
            "overlooked": _lowest(overlooked[i]),
            "location": _lowest(badloc[i]),
            "swap": _lowest(swap[i]),
            "unsupported": supported(lab[i], preds[i]),
            "unlabelled": labelled(lab[i], preds[i]),
        }
        quality = min(float(cleanlab_quality[i]), parts["unsupported"], parts["unlabelled"])
        rows.append(
            {
                "labelme": labelme,
                "image": image,
                "labels": len(lab[i]["labels"]),
                "predictions": int(sum(len(p) for p in preds[i])),
                "quality": round(quality, 6),
                "cleanlab_quality": round(float(cleanlab_quality[i]), 6),
                "supported": round(parts["unsupported"], 6),
                "labelled": round(parts["unlabelled"], 6),
                "issue": quality < threshold,
                "reason": min(parts, key=lambda k: parts[k]) if min(parts.values()) < 1 else "",
            }
        )
    table = pd.DataFrame(rows).sort_values(["quality", "labelme"], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)[list(COLUMNS)]


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Average precision of ranking by ``scores`` (higher = more likely positive)."""
    if not positives.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(float)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def precision_at_recall(scores: np.ndarray, positives: np.ndarray, recall: float) -> float:
    """Precision of the shortest top of the ranking by ``scores`` (higher first) that holds
    ``recall`` of the positives (nan without positives)."""
    if not positives.any():
        return float("nan")
    hits = np.cumsum(positives[np.argsort(-scores, kind="stable")])
    k = int(np.searchsorted(hits, recall * positives.sum() - 1e-9)) + 1
    return float(hits[k - 1] / k)


def score_against_truth(table: pd.DataFrame, errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How well the flagged frames match the injected errors (demo world).

    Args:
        table: :func:`rank_frames`' table.
        errors: the world's error records (``image`` = the labelme image file name, ``kind``).

    Returns:
        errors, flagged, recall, precision, average precision of the ranking (1 - quality), the
        ranking's precision where it reaches a recall of 0.7, and the recall per kind.
    """
    kinds = {str(e["image"]): str(e["kind"]) for e in errors}
    truth = table["image"].map(lambda name: name in kinds).to_numpy(bool)
    flagged = table["issue"].to_numpy(bool)
    found = truth & flagged
    by_kind: dict[str, dict[str, int]] = {}
    for image, kind in kinds.items():
        entry = by_kind.setdefault(kind, {"errors": 0, "found": 0})
        entry["errors"] += 1
        entry["found"] += int(bool(table.loc[table["image"] == image, "issue"].any()))
    return {
        "frames": len(table),
        "errors": int(truth.sum()),
        "flagged": int(flagged.sum()),
        "recall": round(float(found.sum() / max(1, truth.sum())), 4),
        "precision": round(float(found.sum() / max(1, flagged.sum())), 4),
        "average_precision": round(
            average_precision(1.0 - table["quality"].to_numpy(float), truth), 4
        ),
        "precision_at_recall_0.7": round(
            precision_at_recall(1.0 - table["quality"].to_numpy(float), truth, 0.7), 4
        ),
        "by_kind": {
            k: {**v, "recall": round(v["found"] / max(1, v["errors"]), 4)}
            for k, v in sorted(by_kind.items())
        },
    }
