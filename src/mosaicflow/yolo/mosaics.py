"""Test score of the mosaic detector on every frame of the mosaicked demo test videos.

The test videos (``results/detection_testset/``) carry mosaics drawn with a seed stream the
training set never used, on every frame with a target; their truth masks hold one id per mosaic
component. Scores: COCO mask and box AP (class-agnostic over the classes a restore acts on: a
two-class detector's face class is left out, as restore leaves it; predictions at
``conf=0.001``, see :mod:`mosaicflow.yolo.scoring`), and at the inference threshold ``conf``
the frame-level recall (frames with a mosaic where one is found) and false-positive rate
(frames without a mosaic where one is found). A detector with a face class gets beside them
the mask and box AP50 of each class, every class's predictions scored against its own truth
(the test videos' face mosaics against the face class).

The inference threshold is chosen on validation, never on the test videos
(:func:`calibrate_mosaic_detector`): the lowest score, not below ``detector.conf``, at which at
most ``detector.max_fp_rate`` of the mosaic-free frames of the mosaicked validation videos get a
detection. The same videos without any mosaic (their targets unpixelated) give the clean-frame
false-positive rate, reported beside it and on the test videos (:func:`clean_frame_rate`): a
detector that fires there has learned the targets, not the mosaics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.yolo.scoring import TruthVideo, run_segmentation

#: Decimals of a chosen threshold (rounded up, so it stays above the score it must exclude).
THRESHOLD_DECIMALS = 4
#: Keys of the per-frame flags a test record carries until :func:`pool_negative_frames`.
FRAME_FLAGS, CLEAN_FLAGS = "frame_flags", "clean_frame_flags"


def frame_rates(found: Sequence[bool], truth: Sequence[bool]) -> dict[str, float | int]:
    """Frame-level recall and false-positive rate.

    Args:
        found: per frame, whether the detector found a mosaic (at the inference threshold).
        truth: per frame, whether the frame has a mosaic.

    Returns:
        ``frame_recall``, ``frame_fp_rate`` (0.0 when there are no such frames), the frame
        counts ``frames_with_mosaic``, ``frames_without_mosaic`` and ``false_positive_frames``
        (frames without a mosaic where one is found).
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
        "false_positive_frames": int((f & ~t).sum()),
    }


def frame_rate_intervals(
    found: Sequence[bool], truth: Sequence[bool]
) -> dict[str, list[float] | None]:
    """Bootstrap intervals of :func:`frame_rates`' two figures (:mod:`mosaicflow.bootstrap`).

    Returns:
        ``frame_recall_ci95`` (resampling the frames with a mosaic) and ``frame_fp_rate_ci95``
        (the frames without one), each ``[low, high]`` or None without such frames.
    """
    from mosaicflow.bootstrap import proportion_interval

    f, t = np.asarray(found, dtype=bool), np.asarray(truth, dtype=bool)
    if f.shape != t.shape:
        raise ValueError(f"{f.shape} detections but {t.shape} truth frames")
    return {
        f"{key}_ci95": proportion_interval(f[frames]).bounds() if frames.any() else None
        for key, frames in (("frame_recall", t), ("frame_fp_rate", ~t))
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
        ``frame_fp_rate`` (with the bootstrap intervals of :func:`frame_rate_intervals` and
        :meth:`~mosaicflow.yolo.scoring.SegmentationRun.scores`), frame and instance counts,
        the videos, ``pr_curves`` (mask and box, at IoU 0.5) and the per-frame flags
        (:data:`FRAME_FLAGS`, for :func:`pool_negative_frames`); with a face class also
        ``per_class_mask_map50``, ``per_class_box_map50`` (by class name, with ``_ci95``
        intervals) and ``per_class_instances``.
    """
    from mosaicflow.yolo.adapter import load_yolo
    from mosaicflow.yolo.classes import face_class

    run = run_segmentation(
        weights, items, imgsz=imgsz, device=device, iou=iou, conf=conf, batch=batch,
        restored_only=True,
    )  # fmt: skip
    names = dict(load_yolo(weights, "segment").names)
    by_class = {}
    if len(names) > 1 and face_class(names) is not None:
        by_class = run_segmentation(
            weights, items, imgsz=imgsz, device=device, iou=iou, batch=batch, by_class=True
        ).class_scores()
    return {
        **run.scores("mosaic"),
        **by_class,
        **frame_rates(run.found, run.truth),
        **frame_rate_intervals(run.found, run.truth),
        "conf": conf,
        "videos": [item.video.stem for item in items],
        FRAME_FLAGS: {"found": list(run.found), "truth": list(run.truth)},
    }


def above(score: float) -> float:
    """The smallest threshold with :data:`THRESHOLD_DECIMALS` decimals strictly above ``score``."""
    scale = 10**THRESHOLD_DECIMALS
    return round((math.floor(score * scale) + 1) / scale, THRESHOLD_DECIMALS)


def choose_threshold(
    negative_scores: Sequence[float],
    positive_scores: Sequence[float],
    *,
    floor: float,
    max_fp_rate: float,
) -> dict[str, Any]:
    """The lowest threshold, not below ``floor``, whose frame false-positive rate on the
    negatives is at most ``max_fp_rate``.

    Args:
        negative_scores: per frame without a mosaic, its highest detection score (0 for none).
        positive_scores: per frame with a mosaic, its highest detection score.
        floor: the lowest threshold allowed (``detector.conf``).
        max_fp_rate: the largest fraction of negative frames allowed a detection.

    Returns:
        ``conf`` (the threshold), ``floor``, ``max_fp_rate``, and at ``conf`` the validation
        ``frame_fp_rate`` and ``frame_recall`` with their frame counts.
    """
    if not 0 <= max_fp_rate <= 1:
        raise ValueError(f"max_fp_rate {max_fp_rate} is not in [0, 1]")
    negatives = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    positives = np.asarray(positive_scores, dtype=np.float64)
    allowed = math.floor(max_fp_rate * len(negatives) + 1e-9)  # frames that may fire
    conf = float(floor)
    if allowed < len(negatives):
        conf = max(conf, above(float(negatives[allowed])))
    found = np.concatenate([negatives >= conf, positives >= conf])
    truth = np.concatenate([np.zeros(len(negatives), bool), np.ones(len(positives), bool)])
    return {
        "conf": conf,
        "floor": float(floor),
        "max_fp_rate": float(max_fp_rate),
        **frame_rates(found, truth),
    }


def frame_top_scores(
    weights: Path, videos: Sequence[Path], *, imgsz: int, device: str, iou: float, batch: int
) -> list[float]:
    """Per frame of ``videos`` (in order), the detector's highest score (0.0 for none) of
    the classes a restore acts on (:func:`mosaicflow.yolo.classes.restored_kwargs`)."""
    from mosaicflow.yolo.adapter import load_yolo
    from mosaicflow.yolo.classes import restored_kwargs
    from mosaicflow.yolo.scoring import predictions

    model = load_yolo(weights, "segment")
    extra = restored_kwargs(model)
    scores: list[float] = []
    for video in videos:
        # predicted at the evaluation's low threshold (EVAL_CONF), like the AP scores
        for _, _, result in predictions(
            model, Path(video), batch, imgsz=imgsz, device=device, iou=iou, **extra
        ):
            boxes = result.boxes
            scores.append(float(boxes.conf.max()) if boxes is not None and len(boxes) else 0.0)
    return scores


def clean_frame_rate(scores: Sequence[float], conf: float) -> dict[str, Any]:
    """Share of frames without any mosaic (clean videos) with a detection at ``conf``, with
    its bootstrap interval over the frames (``clean_frame_fp_rate_ci95``)."""
    fired = np.asarray(scores, dtype=np.float64) >= conf
    truth = np.zeros(len(fired), bool)
    rates = frame_rates(fired, truth)
    return {
        "clean_frame_fp_rate": rates["frame_fp_rate"],
        "clean_frame_fp_rate_ci95": frame_rate_intervals(fired, truth)["frame_fp_rate_ci95"],
        "clean_frames": len(fired),
        "clean_false_positive_frames": rates["false_positive_frames"],
    }


def pool_negative_frames(test: dict[str, Any]) -> dict[str, Any]:
    """The false-positive rate over every distinct test frame without a mosaic, from the
    mosaicked test videos and the same videos without mosaics (frame ``i`` of one is frame
    ``i`` of the other).

    A frame with a mosaic in the mosaicked copy counts once, by its clean copy; a mosaic-free
    frame exists twice and counts once, as fired when either copy fired. Removes the
    per-frame flags (:data:`FRAME_FLAGS`, :data:`CLEAN_FLAGS`) from ``test``.

    Returns:
        ``negative_frame_fp_rate``, its bootstrap interval over the frames
        (``negative_frame_fp_rate_ci95``) and ``negative_frames``; empty without both flags.
    """
    from mosaicflow.bootstrap import proportion_interval

    flags, clean = test.pop(FRAME_FLAGS, None), test.pop(CLEAN_FLAGS, None)
    if flags is None or clean is None:
        return {}
    found, truth = np.asarray(flags["found"], bool), np.asarray(flags["truth"], bool)
    fired = np.asarray(clean, bool)
    if fired.shape != found.shape:
        raise ValueError(
            f"{len(fired)} frames without mosaics but {len(found)} mosaicked test frames"
        )
    fired = fired | (found & ~truth)
    return {
        "negative_frame_fp_rate": round(float(fired.mean()), 4),
        "negative_frame_fp_rate_ci95": proportion_interval(fired).bounds(),
        "negative_frames": len(fired),
    }


def calibrate_mosaic_detector(
    weights: Path,
    items: Sequence[TruthVideo],
    clean_videos: Sequence[Path],
    *,
    imgsz: int,
    device: str,
    iou: float,
    floor: float,
    max_fp_rate: float,
    batch: int = 16,
) -> dict[str, Any]:
    """Choose the detector's threshold on the validation videos (:func:`choose_threshold` on
    their mosaic-free frames) and report the clean-frame rate of the same videos there.

    Args:
        weights: the detector's best.pt.
        items: the mosaicked validation videos and their mosaic truth.
        clean_videos: the same videos without mosaics (reported, not used for the choice).
        imgsz, device, iou, batch: the inference settings.
        floor: ``detector.conf``, the lowest threshold allowed.
        max_fp_rate: ``detector.max_fp_rate``.

    Returns:
        :func:`choose_threshold`'s record with ``source: validation``, the clean-frame rate at
        the chosen threshold and the videos.
    """
    run = run_segmentation(
        weights, items, imgsz=imgsz, device=device, iou=iou, conf=floor, batch=batch,
        restored_only=True,
    )  # fmt: skip
    negatives = [s for s, has in zip(run.top_scores, run.truth, strict=True) if not has]
    positives = [s for s, has in zip(run.top_scores, run.truth, strict=True) if has]
    chosen = choose_threshold(negatives, positives, floor=floor, max_fp_rate=max_fp_rate)
    clean = frame_top_scores(
        weights, clean_videos, imgsz=imgsz, device=device, iou=iou, batch=batch
    )
    return {
        "source": "validation",
        **chosen,
        **clean_frame_rate(clean, chosen["conf"]),
        "videos": [item.video.stem for item in items],
        "clean_videos": [Path(v).stem for v in clean_videos],
    }
