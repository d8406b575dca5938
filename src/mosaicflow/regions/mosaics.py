"""Test score of the mosaic detector on every frame of the mosaicked demo test videos.

The test videos (``results/detection_testset/``) carry mosaics drawn with a seed stream the
training set never used, on every frame with a target; their truth masks hold one id per mosaic
component. Scores: COCO mask and box AP (class-agnostic, predictions at ``conf=0.001``, see
:mod:`mosaicflow.regions.evaluate`), and at the inference threshold ``conf`` the frame-level
recall (frames with a mosaic where one is found) and false-positive rate (frames without a
mosaic where one is found).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.regions.evaluate import TruthVideo, run_segmentation


def frame_rates(found: Sequence[bool], truth: Sequence[bool]) -> dict[str, float | int]:
    """Frame-level recall and false-positive rate.

    Args:
        found: per frame, whether the detector found a mosaic (at the inference threshold).
        truth: per frame, whether the frame has a mosaic.

    Returns:
        ``frame_recall``, ``frame_fp_rate`` (0.0 when there are no such frames) and the frame
        counts ``frames_with_mosaic``, ``frames_without_mosaic``.
    """
    f, t = np.asarray(found, dtype=bool), np.asarray(truth, dtype=bool)
    if f.shape != t.shape:
        raise ValueError(f"{f.shape} detections but {t.shape} truth frames")
    positives, negatives = int(t.sum()), int((~t).sum())
    return {
        "frame_recall": round(float((f & t).sum() / positives), 4) if positives else 0.0,
        "frame_fp_rate": round(float((f & ~t).sum() / negatives), 4) if negatives else 0.0,
        "frames_with_mosaic": positives,
        "frames_without_mosaic": negatives,
    }


def evaluate_mosaic_detector(
    weights: Path,
    items: Sequence[TruthVideo],
    *,
    imgsz: int,
    device: str,
    iou: float,
    conf: float,
    batch: int = 16,
) -> dict[str, Any]:
    """Mask/box AP and frame-level recall / false-positive rate of the mosaic detector.

    Args:
        weights: the detector's best.pt.
        items: the mosaicked test videos and their mosaic truth.
        imgsz, device, batch: prediction settings.
        iou: the non-maximum suppression IoU (``detector.iou``).
        conf: the inference threshold of the frame-level figures (``detector.conf``).

    Returns:
        ``mask_map50``, ``mask_map50_95``, ``box_map50``, ``box_map50_95``, ``frame_recall``,
        ``frame_fp_rate``, frame and instance counts, the videos and ``pr_curves`` (mask and
        box, at IoU 0.5).
    """
    run = run_segmentation(
        weights, items, imgsz=imgsz, device=device, iou=iou, conf=conf, batch=batch
    )
    return {
        **run.scores("mosaic"),
        **frame_rates(run.found, run.truth),
        "conf": conf,
        "videos": [item.video.stem for item in items],
    }
