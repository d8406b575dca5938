"""Typed configs of the region models (the ``regions:`` and ``watermark:`` schema sections)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mosaicflow.config import build


@dataclass(frozen=True)
class RegionsConfig:
    """``regions``: the region segmenter (YOLO segmentation), its training and inference."""

    labels: tuple[str, ...]
    empty_flag: str | None
    val_fraction: float
    model: str
    pretrained: str | None
    weights: str | None
    imgsz: int
    epochs: int
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
class WatermarkConfig:
    """``watermark``: the watermark detector (YOLO detection) and its training."""

    model: str
    pretrained: str | None
    weights: str | None
    single_cls: bool
    imgsz: int
    epochs: int
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


#: The config class of each region-model stage (the schema section has the same name).
STAGE_CONFIGS: dict[str, type[RegionsConfig] | type[WatermarkConfig]] = {
    "region_seg": RegionsConfig,
    "watermark": WatermarkConfig,
}


def stage_config_class(stage: str) -> type[RegionsConfig] | type[WatermarkConfig]:
    """The config class of ``stage``; fails naming the known stages."""
    if stage not in STAGE_CONFIGS:
        raise ValueError(f"unknown region-model stage {stage!r} (known: {sorted(STAGE_CONFIGS)})")
    return STAGE_CONFIGS[stage]


def stage_config(stage: str, section: Mapping[str, Any]) -> RegionsConfig | WatermarkConfig:
    """The typed config of ``stage`` (``region_seg`` or ``watermark``) from its schema section."""
    return build(stage_config_class(stage), section)
