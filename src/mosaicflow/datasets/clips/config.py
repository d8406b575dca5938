"""Typed config of the ``restoration_dataset:`` section of ``config/schema.yaml``.

Fields match the schema keys one to one; defaults live only in the schema. Build with
``mosaicflow.config.build(RestorationDatasetConfig, config["restoration_dataset"])``.
``__post_init__`` checks what JSON schema cannot express (ordered ranges, split fractions).
"""

from __future__ import annotations

from dataclasses import dataclass

from mosaicflow.config import ConfigError

_KEY = "config key 'restoration_dataset"


@dataclass(frozen=True)
class MaskGrowthConfig:
    """``mask_growth``: random dilation of the stored masks, drawn once per clip."""

    p: float
    radius: tuple[float, float]

    def __post_init__(self) -> None:
        if len(self.radius) != 2 or self.radius[0] > self.radius[1]:
            raise ConfigError(f"{_KEY}.mask_growth.radius': expected [low, high], low <= high")


@dataclass(frozen=True)
class AnalysersConfig:
    """``analysers``: how many frames are measured, when a watermark counts."""

    frames: int
    watermark_min_overlap: float


@dataclass(frozen=True)
class FiltersConfig:
    """``filters``: thresholds on the analyser results (``None`` = filter off)."""

    max_watermark: float | None
    min_region_px: float | None
    max_region_fraction: float | None
    min_sharpness: float | None
    min_quality: float | None
    max_blockiness: float | None
    min_source_quality: float | None = None


@dataclass(frozen=True)
class SplitConfig:
    """``split``: fractions of videos in val and test (the rest is train)."""

    val: float
    test: float

    def __post_init__(self) -> None:
        if self.val + self.test > 1.0:
            raise ConfigError(f"{_KEY}.split': val + test must be <= 1")


@dataclass(frozen=True)
class ClipCuttingConfig:
    """The ``restoration_dataset`` keys one video's clips read (checkpoint
    build_restoration_clips): scenes, crops, encoding, analysers and filters. The split and the
    contact sheets are not among them, so changing those recuts no video."""

    min_seconds: float
    max_seconds: float
    stride_seconds: float
    out_size: int
    border: float
    border_min_px: int
    max_gap_frames: int
    link_iou: float | None
    max_clips_per_video: int | None
    smooth_seconds: float
    square: bool
    crop: str
    resize: str
    codec: str
    crf: int
    mask_growth: MaskGrowthConfig
    analysers: AnalysersConfig
    filters: FiltersConfig
    regions: str

    def __post_init__(self) -> None:
        if self.min_seconds > self.max_seconds:
            raise ConfigError(f"{_KEY}.min_seconds': must be <= max_seconds")
        if self.out_size is None or self.out_size < 8:
            raise ConfigError(f"{_KEY}.out_size': must be an integer >= 8")
        if self.regions not in ("inferred", "truth"):
            raise ConfigError(f"{_KEY}.regions': must be 'inferred' or 'truth'")
        if self.crop not in ("region", "full_frame"):
            raise ConfigError(f"{_KEY}.crop': must be 'region' or 'full_frame'")
        if self.resize not in ("down", "always"):
            raise ConfigError(f"{_KEY}.resize': must be 'down' or 'always'")
        if self.codec not in ("x264", "ffv1"):
            raise ConfigError(f"{_KEY}.codec': must be 'x264' or 'ffv1'")
        if not 0 <= self.crf <= 15:
            raise ConfigError(f"{_KEY}.crf': must be in 0..15 (near-lossless)")


@dataclass(frozen=True)
class RestorationDatasetConfig(ClipCuttingConfig):
    """``restoration_dataset``: the clip keys, the split by video and the contact sheets."""

    split: SplitConfig
    sheet_clips: int
