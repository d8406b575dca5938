"""The `review` and `duplicates` config sections as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from mosaicflow.curate.second_opinion import DEFAULT_CLASSES


@dataclass(frozen=True)
class NudeNetConfig:
    """``review.nudenet``: the second-opinion detector."""

    enabled: bool = False
    classes: tuple[str, ...] = DEFAULT_CLASSES
    min_score: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"review.nudenet.min_score must be in [0, 1], got {self.min_score}")


@dataclass(frozen=True)
class ContrastCheckConfig:
    """``review.contrast_check``: the segmenter's confidence with the frames' contrast lowered."""

    enabled: bool = True
    gain: float = 0.7
    offset: float = 20.0

    def __post_init__(self) -> None:
        if not 0.0 < self.gain < 1.0 or not 0.0 <= self.offset <= 255.0 * (1.0 - self.gain):
            raise ValueError(
                "review.contrast_check: gain must be in (0, 1) and offset in [0, 255 * (1 - gain)]"
                f", got {self.gain} and {self.offset}"
            )


@dataclass(frozen=True)
class ClipSignalsConfig:
    """The ``review`` keys one video's clip signals read (rule score_clips): the second
    opinions. The ranking and export keys are not among them, so changing those rescores no
    video."""

    nudenet: NudeNetConfig = field(default_factory=NudeNetConfig)
    contrast_check: ContrastCheckConfig = field(default_factory=ContrastCheckConfig)


@dataclass(frozen=True)
class ReviewConfig(ClipSignalsConfig):
    """``review``: signals, ranking and the review export."""

    top_k: int = 50
    min_verdicts: int = 5  # verdicts of each kind (keep, drop) before the model replaces 1 - conf
    folds: int = 5  # out-of-fold folds (grouped by video), at most the reviewed videos
    regularisation: float = 1.0  # inverse L2 strength C of the logistic regression
    label_studio_path: str = "results/review/export/videos"

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.min_verdicts < 2 or self.folds < 2 or self.regularisation <= 0:
            raise ValueError(
                "review: top_k must be >= 1, min_verdicts and folds >= 2 and regularisation > 0, "
                f"got {self.top_k}, {self.min_verdicts}, {self.folds}, {self.regularisation}"
            )


@dataclass(frozen=True)
class DuplicatesConfig:
    """``duplicates``: frame signatures, pairs, groups and drops."""

    enabled: bool = True
    max_distance: int = 12
    min_overlap: float = 0.5
    drop_overlap: float = 0.8
    min_std: float = 8.0
    search: str = "auto"
