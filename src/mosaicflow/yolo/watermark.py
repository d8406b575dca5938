"""Watermark scoring of clips for the dataset stage.

A restoration clip whose region is crossed by a watermark (text, logo) teaches the model to
paint watermarks; the dataset stage drops or flags such clips with :func:`clip_watermark_fraction`:
the fraction of sampled frames where a detected watermark overlaps the clip's box.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mosaicflow.formats.boxes import Box, shares_inside
from mosaicflow.yolo.adapter import YoloModel, open_model


def overlap_fraction(box: Box, detections: np.ndarray) -> float:
    """Largest share of a detection's area that lies inside ``box`` (0 when none)."""
    shares = shares_inside(box, detections)
    return float(shares.max()) if len(shares) else 0.0


def sample_indices(count: int, samples: int) -> list[int]:
    """``samples`` evenly spaced indices of ``count`` items (all when there are fewer)."""
    if count <= 0 or samples <= 0:
        return []
    if count <= samples:
        return list(range(count))
    return sorted({round(float(i)) for i in np.linspace(0, count - 1, samples)})


def watermarked_fraction(
    detections: Sequence[np.ndarray], boxes: Sequence[Box], min_overlap: float = 0.0
) -> float:
    """Fraction of frames whose detections overlap their box by more than ``min_overlap``.

    Args:
        detections: per frame, an (N, 4) array of watermark boxes (xyxy).
        boxes: per frame, the clip's box (xyxy).
        min_overlap: share of a watermark's area inside the box above which it counts.
    """
    if len(detections) != len(boxes):
        raise ValueError(f"{len(detections)} detection sets for {len(boxes)} boxes")
    if not boxes:
        return 0.0
    hits = sum(overlap_fraction(b, d) > min_overlap for b, d in zip(boxes, detections, strict=True))
    return hits / len(boxes)


class WatermarkDetector:
    """The trained watermark detector (loaded on first use).

    Args:
        weights: the detector's best.pt (``results/models/watermark/best.pt``).
        imgsz: inference size (``watermark.imgsz``).
        conf: minimum score (``watermark.conf``).
        device: ``auto|cpu|cuda:N``.
        threads: CPU threads.
        config_dir: ultralytics' config folder for the job (a folder under ``results/``);
            a temporary folder when omitted.
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        imgsz: int,
        conf: float,
        device: str = "auto",
        threads: int = 1,
        config_dir: str | Path | None = None,
    ) -> None:
        self.weights, self.imgsz, self.conf = Path(weights), imgsz, conf
        self.device, self.threads, self.config_dir = device, threads, config_dir
        self._model: YoloModel | None = None

    def _load(self) -> YoloModel:
        if self._model is None:
            # the rule's folder under results/ when given; never next to the weights
            self._model = open_model(
                self.weights, task="detect", config_dir=self.config_dir, threads=self.threads,
                device=self.device,
            )  # fmt: skip
        return self._model

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Watermark boxes (N, 4 xyxy, float32) of each BGR frame."""
        if not frames:
            return []
        found = self._load().detections(frames, masks=False, imgsz=self.imgsz, conf=self.conf)
        return [d.xyxy().astype(np.float32) for d in found]

    def boxes_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Watermark boxes (N, 4 xyxy) of one RGB frame."""
        return self.detect([np.ascontiguousarray(rgb[..., ::-1])])[0]


def clip_watermark_fraction(
    detector: WatermarkDetector,
    frames: Sequence[np.ndarray],
    boxes: Sequence[Box],
    *,
    samples: int = 8,
    min_overlap: float = 0.0,
) -> float:
    """Fraction of ``samples`` evenly spaced frames of a clip with a watermark over its box.

    Args:
        detector: the watermark detector.
        frames: the clip's full frames (BGR).
        boxes: the clip's crop box in each frame (xyxy pixels).
        samples: frames to look at.
        min_overlap: see :func:`watermarked_fraction`.
    """
    if len(frames) != len(boxes):
        raise ValueError(f"{len(frames)} frames for {len(boxes)} boxes")
    picked = sample_indices(len(frames), samples)
    detections = detector.detect([frames[i] for i in picked])
    return watermarked_fraction(detections, [boxes[i] for i in picked], min_overlap)
