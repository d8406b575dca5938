"""Typed config of the ``detection_dataset:`` section of ``config/schema.yaml``.

Fields match the schema keys one to one; defaults live only in the schema. Build with
``mosaicflow.config.build(DetectionDatasetConfig, config["detection_dataset"])``; one video's
samples read the subset :class:`DetectionSamplingConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mosaicflow.config import ConfigError
from mosaicflow.datasets.detection.faces import FacesConfig

_KEY = "config key 'detection_dataset"
REGION_SOURCES = ("inferred", "truth")


@dataclass(frozen=True)
class DetectionSplitConfig:
    """``split``: fractions of videos in val and test (user videos; the demo follows roles)."""

    val: float
    test: float

    def __post_init__(self) -> None:
        if self.val + self.test >= 1.0:
            raise ConfigError(f"{_KEY}.split': val + test must leave videos for train (< 1)")


@dataclass(frozen=True)
class DetectionSamplingConfig:
    """The ``detection_dataset`` keys one video's samples read (rule build_detection_samples):
    sampling, near-duplicates, negatives, degradations, faces. The split, the test videos'
    seed and the source-quality filter are not among them, so changing those reruns none of
    the per-video samples."""

    regions: str
    frames_per_video: int
    imgsz: int
    hash_distance: int
    negatives: float
    flat_fraction: float
    hard_negatives: float
    clean_regions: float
    random_mosaics: float
    min_mosaic_change: float
    size_scale: tuple[float, float] | None
    degrade: bool
    faces: FacesConfig

    def __post_init__(self) -> None:
        if self.regions not in REGION_SOURCES:
            raise ConfigError(f"{_KEY}.regions': {self.regions!r} not in {REGION_SOURCES}")
        for name in (
            "negatives",
            "flat_fraction",
            "hard_negatives",
            "clean_regions",
            "random_mosaics",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{_KEY}.{name}': must lie in [0, 1]")
        if self.size_scale is not None and not 0 < self.size_scale[0] <= self.size_scale[1]:
            raise ConfigError(f"{_KEY}.size_scale': needs 0 < low <= high")
        if self.min_mosaic_change < 0:
            raise ConfigError(f"{_KEY}.min_mosaic_change': must be >= 0")
        if self.imgsz < 32 or self.frames_per_video < 1 or self.hash_distance < 0:
            raise ConfigError(
                f"{_KEY}': imgsz >= 32, frames_per_video >= 1 and hash_distance >= 0 are needed"
            )


@dataclass(frozen=True)
class DetectionDatasetConfig(DetectionSamplingConfig):
    """``detection_dataset``: the sampling keys, the split by video, the test videos' mosaic
    seed and the source-quality filter of the aggregate dataset."""

    test_seed: int
    split: DetectionSplitConfig
    min_source_quality: float | None = None
