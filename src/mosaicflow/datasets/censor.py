"""The censor filter: source frames and clips that already carry a mosaic are dropped.

A source that is already censored teaches the wrong thing twice: a detection sample whose
frame holds a real mosaic outside the drawn ones labels that mosaic as background, and a
restoration clip cut around a pixelated region asks the restorer to reproduce the pixelation.
Rules ``build_detection_samples`` and ``build_restoration_clips`` run :class:`CensorCheck` on
the frames they look at and drop what it flags, with the reason in the manifest and the clip
index (``censored: ...``).

Two ways to look, chosen by the config (``censor``):

- **a mosaic detector** (``censor.detector``: YOLO weights, a previous run's detector or
  Lada's): a detection of at least ``min_score`` anywhere in a sample's source frame drops the
  sample; for a clip, a detection lying over its region (their intersection at least
  ``min_overlap`` of the smaller box) on at least half of the analysed frames drops the clip;
- **the blockiness analyser** (no detector): the region's share of gradient energy on one block
  grid (:func:`mosaicflow.datasets.clips.analysers.blockiness`) above ``max_blockiness`` drops
  the sample (any of its regions) or the clip (the median over its analysed frames). It only
  sees the regions the segmenter found: a mosaic elsewhere in the frame needs the detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mosaicflow.config import ConfigError
from mosaicflow.datasets.clips.analysers import blockiness, grey_crop
from mosaicflow.formats.boxes import Box, overlaps_of_smaller

if TYPE_CHECKING:
    from mosaicflow.yolo.adapter import YoloModel

#: Prefix of the reason of every item the filter drops.
REASON = "censored"


@dataclass(frozen=True)
class CensorConfig:
    """The ``censor`` section: how already censored frames and clips are found."""

    enabled: bool
    max_blockiness: float
    detector: str | None
    min_score: float
    min_overlap: float
    imgsz: int | None

    def __post_init__(self) -> None:
        for key in ("max_blockiness", "min_score", "min_overlap"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"config key 'censor.{key}': {value} is not in [0, 1]")


def region_blockiness(rgb: np.ndarray, box: Box) -> float | None:
    """Blockiness of the grey crop of ``box`` in an RGB frame (None when under 4 px a side)."""
    gray = grey_crop(rgb, box)
    return blockiness(gray)[0] if min(gray.shape) >= 4 else None


def blockiness_reason(value: float | None, limit: float) -> str:
    """The drop reason of a blockiness over ``limit`` (``""``: kept; None: not measured)."""
    if value is None or value <= limit:
        return ""
    return f"{REASON}: blockiness {value:.3f} > {limit:g}"


class CensorCheck:
    """Finds already censored frames and clips with a detector or the blockiness analyser.

    Args:
        cfg: the ``censor`` section.
        weights: the detector's weights (``censor.detector``); None: the analyser.
        device: where the detector runs (``auto``, ``cpu``, ``cuda``).
        config_dir: ultralytics' settings folder for the job.
    """

    def __init__(
        self,
        cfg: CensorConfig,
        weights: str | Path | None = None,
        *,
        device: str = "auto",
        config_dir: str | Path | None = None,
    ) -> None:
        self.cfg, self.weights = cfg, Path(weights) if weights else None
        self.device, self.config_dir = device, config_dir
        self._model: YoloModel | None = None
        self._imgsz = cfg.imgsz

    @property
    def uses_detector(self) -> bool:
        """Whether a detector looks (``censor.detector``), rather than the analyser."""
        return self.weights is not None

    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The detector's mosaics in an RGB frame of at least ``min_score``: their scores
        ``(N,)`` and xyxy pixel boxes ``(N, 4)``."""
        if self.weights is None:
            raise ValueError("censor: no detector was given (censor.detector)")
        if self._model is None:
            from mosaicflow.yolo.adapter import DEFAULT_IMGSZ, open_model

            self._model = open_model(
                self.weights, config_dir=self.config_dir, device=self.device,
                origin="config key 'censor.detector'",
            )  # fmt: skip
            self._imgsz = self.cfg.imgsz or self._model.trained_imgsz or DEFAULT_IMGSZ
        found = self._model.detections(
            [np.ascontiguousarray(rgb[..., ::-1])], masks=False, imgsz=self._imgsz,
            conf=self.cfg.min_score,
        )[0]  # fmt: skip
        return np.asarray(found.scores, np.float64).reshape(-1), found.xyxy().reshape(-1, 4)

    def frame_reason(self, rgb: np.ndarray, boxes: Sequence[Box]) -> str:
        """Why a sample's source frame is dropped (``""``: kept).

        Args:
            rgb: the source frame.
            boxes: its regions' boxes (what the analyser measures; the detector looks at the
                whole frame).
        """
        if self.uses_detector:
            scores, _ = self.detect(rgb)
            return f"{REASON}: detector score {scores.max():.3f}" if len(scores) else ""
        values = [v for v in (region_blockiness(rgb, b) for b in boxes) if v is not None]
        return blockiness_reason(max(values, default=None), self.cfg.max_blockiness)

    def clip_reason(
        self,
        median_blockiness: float | None,
        detections: Sequence[np.ndarray] = (),
        boxes: Sequence[Box] = (),
    ) -> str:
        """Why a clip is dropped (``""``: kept).

        Args:
            median_blockiness: the clip's median region blockiness (the analyser's reading).
            detections: the detector's boxes (:meth:`detect`) on each analysed frame.
            boxes: the clip's region box on each of those frames.
        """
        if not self.uses_detector:
            return blockiness_reason(median_blockiness, self.cfg.max_blockiness)
        if len(detections) != len(boxes):
            raise ValueError(f"{len(detections)} detection sets for {len(boxes)} region boxes")
        over = [
            bool(len(found))
            and float(overlaps_of_smaller(box, found).max()) >= self.cfg.min_overlap
            for found, box in zip(detections, boxes, strict=True)
        ]
        if over and 2 * sum(over) >= len(over):
            return f"{REASON}: detector on {sum(over)} of {len(over)} analysed frames"
        return ""
