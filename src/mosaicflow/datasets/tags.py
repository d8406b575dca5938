"""Region tags: the nudenet classes found inside a region (exposed body parts, faces).

Every restoration clip and detection sample gets the classes whose detections lie mostly
inside its region's box (``tags.min_overlap`` of the detection's area), on the frames it is
analysed on. Two index columns carry them: ``tags``, the classes joined with ``+`` in name order
(empty when none), and ``tag``, the one with the highest score (``none`` when none), a level
for ``balance.*_levels``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mosaicflow.config import ConfigError
from mosaicflow.formats.boxes import Box, share_inside
from mosaicflow.nudenet import ClassFinder, Found

#: ``tag`` of an item without any tag.
NO_TAG = "none"


@dataclass(frozen=True)
class TagsConfig:
    """The ``tags`` section: which classes tag a region, and how sure and how inside."""

    enabled: bool
    classes: tuple[str, ...]
    min_score: float
    min_overlap: float

    def __post_init__(self) -> None:
        for key in ("min_score", "min_overlap"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"config key 'tags.{key}': must be in [0, 1]")


class RegionTagger:
    """Tags regions of RGB frames with the nudenet classes found inside them.

    Args:
        cfg: the ``tags`` config.
        model: the ONNX file (default: the installed package's ``320n.onnx``).

    Raises:
        ValueError: a class the detector does not know (names the key and the known ones).
    """

    def __init__(self, cfg: TagsConfig, model: str | Path | None = None) -> None:
        self.cfg = cfg
        self._finder = ClassFinder(cfg.classes, cfg.min_score, "config key 'tags.classes'", model)

    def found(self, frame: np.ndarray) -> list[Found]:
        """The frame's detections of the configured classes at ``min_score`` or above."""
        return self._finder.found(frame)

    def inside(self, found: Iterable[Found], box: Box) -> dict[str, float]:
        """Class -> best score of the detections lying inside ``box`` (``min_overlap``)."""
        return merge(
            {f.label: f.score} for f in found if share_inside(f.box, box) >= self.cfg.min_overlap
        )


def merge(scores: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The union of several tag sets, each class with its best score."""
    out: dict[str, float] = {}
    for item in scores:
        for label, score in item.items():
            out[label] = max(score, out.get(label, 0.0))
    return out


def tag_fields(scores: Mapping[str, float] | None) -> dict[str, str]:
    """The index columns of a tag set: ``tags`` (sorted, ``+``-joined) and ``tag`` (the best
    scoring class); both empty strings when the item was not tagged at all (``None``)."""
    if scores is None:
        return {"tags": "", "tag": ""}
    best = max(sorted(scores), key=lambda k: scores[k], default=NO_TAG)
    return {"tags": "+".join(sorted(scores)), "tag": best}


def rounded(scores: Mapping[str, float]) -> dict[str, float]:
    """A tag set for a JSON record: classes in name order, scores to four digits."""
    return {k: round(float(scores[k]), 4) for k in sorted(scores)}


def tag_boxes(tagger: RegionTagger, frame: np.ndarray, boxes: Sequence[Box]) -> dict[str, float]:
    """The tags of several regions of one frame, as one set."""
    found = tagger.found(frame)
    return merge(tagger.inside(found, box) for box in boxes)
