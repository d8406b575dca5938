"""Typed configs of the YOLO models (the ``regions:``, ``watermark:`` and ``detector:`` schema
sections; the model table :data:`mosaicflow.yolo.models.MODELS` names each model's section and
class)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RegionsConfig:
    """``regions``: the region segmenter (YOLO segmentation), its training and inference."""

    labels: tuple[str, ...]
    empty_flag: str | None
    val_fraction: float
    model: str | None
    pretrained: str | None
    weights: str | None
    imgsz: int
    epochs: int
    min_steps: int
    freeze: str
    time_minutes: float | None
    optimizer: str
    lr0: float
    warmup_bias_lr: float
    batch: int
    nbs: int | None
    warmup_epochs: float
    val_during_training: bool
    close_mosaic: int
    copy_paste: float
    overrides: Mapping[str, Any]
    cpu_precision: str
    conf: float
    iou: float
    tracker: str
    infer_batch: int
    half: bool
    prelabel_frames: int


@dataclass(frozen=True)
class RegionsInferConfig:
    """The ``regions`` keys region inference reads (rule ``infer_regions`` gets only these)."""

    imgsz: int
    conf: float
    iou: float
    tracker: str
    infer_batch: int
    half: bool


@dataclass(frozen=True)
class RegionsPrelabelConfig:
    """The ``regions`` keys pre-labelling reads (rule ``prelabel_uncertain`` gets only these)."""

    prelabel_frames: int
    conf: float
    imgsz: int


@dataclass(frozen=True)
class WatermarkConfig:
    """``watermark``: the watermark detector (YOLO detection) and its training."""

    enabled: bool
    model: str | None
    pretrained: str | None
    weights: str | None
    single_cls: bool
    imgsz: int
    epochs: int
    min_steps: int
    freeze: str
    time_minutes: float | None
    optimizer: str
    lr0: float
    warmup_bias_lr: float
    batch: int
    nbs: int | None
    warmup_epochs: float
    val_during_training: bool
    close_mosaic: int
    overrides: Mapping[str, Any]
    cpu_precision: str
    conf: float


@dataclass(frozen=True)
class DetectorConfig:
    """``detector``: the mosaic detector (YOLO segmentation), its training and inference."""

    model: str | None
    pretrained: str | None
    from_region_seg: bool
    resample_augmentation: bool
    weights: str | None
    imgsz: int
    epochs: int
    min_steps: int
    freeze: str
    time_minutes: float | None
    optimizer: str
    lr0: float
    warmup_bias_lr: float
    batch: int
    nbs: int | None
    warmup_epochs: float
    val_during_training: bool
    close_mosaic: int
    overrides: Mapping[str, Any]
    cpu_precision: str
    conf: float
    max_fp_rate: float | None
    iou: float
    infer_batch: int
    half: bool
