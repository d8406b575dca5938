"""Rule ``restore_test_video``: restore a mosaicked test video with the trained models."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaicflow.evaluation.config import EvaluateConfig
from mosaicflow.io import write_json

log = logging.getLogger(__name__)

#: Keys of the restore summary that depend on the machine (wall time, how far the overlapping
#: stages ran ahead): logged, not written, so the same inputs give the same summary bytes.
VOLATILE_KEYS = ("seconds", "fps", "stage_seconds", "peak_buffered_frames")
#: The ``detector`` section's inference keys the restore run uses (the threshold comes from the
#: detector's card: chosen on validation, or ``detector.conf``).
DETECTOR_KEYS = ("iou", "imgsz", "half")


def restore_test_video(
    cfg: EvaluateConfig,
    detector_params: Mapping[str, Any],
    video: Path,
    detector_weights: Path,
    detector_card: Path,
    restorer_weights: Path,
    out_video: Path,
    out_masks: Path,
    out_summary: Path,
    *,
    device: str,
    threads: int,
    config_dir: Path,
) -> dict[str, Any]:
    """Restore ``video`` (detect, restore clips, blend, encode) and write its summary.

    Args:
        cfg: the ``evaluate`` settings (clip length, batch, encoder, fp16).
        detector_params: the ``detector`` section's ``iou``, ``imgsz``, ``half``.
        video: the mosaicked test video.
        detector_weights: the mosaic detector (YOLO-seg ``.pt``).
        detector_card: its ``model.json``, whose ``threshold.conf`` is the detection threshold.
        restorer_weights: the exported generator (its ``model.json`` beside it is used when it
            names the file).
        out_video: the restored video.
        out_masks: the per-frame detections (``regions.parquet`` format).
        out_summary: the run's summary JSON (:class:`~mosaicflow.inference.pipeline.RestoreResult`
            without the wall-clock fields).
        device: ``auto``, ``cpu`` or ``cuda:N``.
        threads: CPU threads of torch.
        config_dir: ultralytics' settings folder for this job.

    Returns:
        The summary written.
    """
    from mosaicflow.inference.detector import YoloDetector
    from mosaicflow.inference.pipeline import restore_video
    from mosaicflow.inference.restorer import BasicVSRRestorer, describe
    from mosaicflow.yolo.card import card_threshold

    unknown = set(detector_params) - set(DETECTOR_KEYS)
    if unknown:
        raise ValueError(f"detector params: unexpected keys {sorted(unknown)}")
    conf = card_threshold(detector_card)
    if conf is None:
        raise ValueError(f"{detector_card}: the detector's card records no threshold")
    half = bool(detector_params.get("half", False))
    detector = YoloDetector(
        detector_weights, device=device, conf=conf,
        iou=float(detector_params["iou"]), imgsz=detector_params.get("imgsz"), half=half,
        threads=threads, config_dir=config_dir,
    )  # fmt: skip
    restorer = BasicVSRRestorer(
        restorer_weights, device=device, fp16=cfg.fp16, frames_per_call=cfg.frames_per_call
    )
    result = restore_video(
        video, out_video, detector, restorer, cfg.restore_settings(), masks_out=out_masks
    ).to_dict()
    log.info("%s: %s", video, {k: result[k] for k in VOLATILE_KEYS})
    summary = {k: v for k, v in result.items() if k not in VOLATILE_KEYS}
    summary |= {
        "version": 1,
        "detector": {"weights": str(detector_weights), "conf": conf, **dict(detector_params)},
        "restorer": {"weights": str(restorer_weights), **describe(restorer)},
    }
    write_json(out_summary, summary)
    return summary
