"""Rule ``restore_test_video``: restore a mosaicked test video with the trained models."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mosaicflow.evaluation.config import EvaluationRestoreConfig
from mosaicflow.inference.detector import DetectorSettings
from mosaicflow.io import write_json

log = logging.getLogger(__name__)

#: Keys of the restore summary that depend on the machine (wall time, how far the overlapping
#: stages ran ahead): logged, not written, so the same inputs give the same summary bytes.
VOLATILE_KEYS = ("seconds", "fps", "stage_seconds", "peak_buffered_frames")


def restore_test_video(
    cfg: EvaluationRestoreConfig,
    detector_settings: DetectorSettings,
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
        detector_settings: the detector's inference keys.
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

    conf = card_threshold(detector_card)
    if conf is None:
        raise ValueError(f"{detector_card}: the detector's card records no threshold")
    detector = YoloDetector(
        detector_weights, device=device, conf=conf, iou=float(detector_settings.iou),
        imgsz=detector_settings.imgsz, half=bool(detector_settings.half), threads=threads,
        config_dir=config_dir,
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
        "detector": {"weights": str(detector_weights), "conf": conf, **asdict(detector_settings)},
        "classes": list(detector.classes.values()),
        "detector_classes": [str(n) for _, n in sorted(dict(detector.model.names).items())],
        "restorer": {"weights": str(restorer_weights), **describe(restorer)},
    }
    write_json(out_summary, summary)
    return summary
