"""The contrast check of a clip's region: the region segmenter's confidence in it on a few of the
clip's source frames, as they are and with their contrast lowered (signal ``contrast_drop``).

A region the segmenter finds by its detail loses confidence when the detail fades; one it finds
by something else (a colour, a silhouette, the scene around it) keeps it or gains. The signal is
the mean over the frames of the plain confidence minus the lowered one; the ranking model learns
from the review verdicts how much it says on a given collection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.curate.label_issues import box_iou
from mosaicflow.yolo.adapter import Detections

#: Lowest IoU of a detection box with the clip's region box for its confidence to count.
MATCH_IOU = 0.3
#: Lowest confidence the segmenter reports here (below the inference threshold, so a region that
#: fades is seen fading rather than gone).
REPORT_CONF = 0.01


def lower_contrast(rgb: np.ndarray, gain: float, offset: float) -> np.ndarray:
    """``gain * pixel + offset`` of a uint8 image, rounded and clipped to 0-255."""
    lowered = rgb.astype(np.float32) * np.float32(gain) + np.float32(offset)
    return np.clip(np.rint(lowered), 0, 255).astype(np.uint8)


def region_confidence(box: Sequence[float], found: Detections) -> float:
    """The best score of a detection whose box overlaps ``box`` by IoU >= :data:`MATCH_IOU`
    (0 when none does)."""
    overlaps = box_iou(np.asarray([box], np.float64), found.xyxy().reshape(-1, 4))[0]
    matched = found.scores[overlaps >= MATCH_IOU]
    return float(matched.max()) if len(matched) else 0.0


def contrast_drop(
    record: Mapping[str, Any],
    frames: Sequence[int],
    found: Mapping[int, tuple[Detections, Detections]],
) -> float:
    """Mean over ``frames`` (source frame numbers of the clip) of the region's confidence on the
    plain frame minus that on the lowered one (``found``: frame -> both frames' detections);
    NaN without a frame."""
    region = {int(f["frame"]): f["region_box"] for f in record["per_frame"]}
    drops = [
        region_confidence(region[n], found[n][0]) - region_confidence(region[n], found[n][1])
        for n in frames
        if n in region
    ]
    return float(np.mean(drops)) if drops else float("nan")


class SegmenterDetections:
    """The region segmenter's boxes and scores on RGB frames (ultralytics, offline).

    Args:
        weights: the segmenter (``results/models/region_seg/best.pt``).
        imgsz: its inference size (``regions.imgsz``).
        iou: its NMS IoU (``regions.iou``).
        device: the config's device (``auto|cpu|cuda:N``).
        threads: CPU threads.
        config_dir: ultralytics' config folder of this job.
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        imgsz: int,
        iou: float,
        device: str,
        threads: int,
        config_dir: Path,
    ) -> None:
        from mosaicflow.yolo.adapter import open_model

        self.yolo = open_model(
            weights, task="segment", config_dir=config_dir, threads=threads, device=device
        )
        self.kwargs = {"imgsz": imgsz, "conf": REPORT_CONF, "iou": iou}

    def __call__(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detections of each uint8 RGB frame."""
        if not len(frames):
            return []
        images = [np.ascontiguousarray(frame[..., ::-1]) for frame in frames]  # BGR
        return self.yolo.detections(images, masks=False, **self.kwargs)
