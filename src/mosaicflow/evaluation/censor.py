"""How well the censor filter finds already censored footage: precision and recall of its drops
against a demo world's truth.

A world video's truth JSON lists its scenes with their degradation; a scene of kind ``mosaic``
shows its targets already pixelated (:mod:`mosaicflow.world.degraded`). The items scored are the
ones the filter looked at:

- **samples**: the sampled frames of a video's detection samples that had a region (the
  analyser measures regions), kept or dropped as ``censored``; a frame is censored in truth when
  it lies in a ``mosaic`` scene;
- **clips**: the candidate clips that were cut (not ``skipped``), kept or filtered as
  ``censored``; a clip is censored in truth when most of its frames lie in a ``mosaic`` scene.

Items dropped for another reason (a near duplicate, another filter) are not scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mosaicflow.bootstrap import Interval, proportion_interval
from mosaicflow.datasets.censor import REASON


@dataclass(frozen=True)
class DropItem:
    """One item the censor filter looked at: whether it dropped it and whether it is censored."""

    dropped: bool
    censored: bool


def censored_frames(truth: Mapping[str, Any]) -> set[int]:
    """The frames of a world truth record's scenes of kind ``mosaic``."""
    frames: set[int] = set()
    for scene in truth["scenes"]:
        if (scene.get("degraded") or {}).get("kind") == "mosaic":
            frames.update(range(int(scene["start"]), int(scene["end"])))
    return frames


def _is_censor_drop(reason: str | None) -> bool:
    return bool(reason) and str(reason).startswith(REASON)


def sample_items(manifest: Mapping[str, Any], censored: set[int]) -> list[DropItem]:
    """The items of one detection-sample manifest (``build_detection_samples``)."""
    items = [
        DropItem(False, int(s["frame"]) in censored) for s in manifest["samples"] if s["regions"]
    ]
    items += [
        DropItem(True, int(d["frame"]) in censored)
        for d in manifest["dropped"]
        if _is_censor_drop(d["reason"])
    ]
    return items


def clip_items(manifest: Mapping[str, Any], censored: set[int]) -> list[DropItem]:
    """The items of one clip manifest (``build_restoration_clips``)."""
    items = []
    for clip in manifest["clips"]:
        if clip["status"] == "skipped":
            continue
        dropped = clip["status"] == "filtered" and _is_censor_drop(clip["reason"])
        if clip["status"] == "filtered" and not dropped:
            continue
        frames = range(int(clip["frame_start"]), int(clip["frame_end"]) + 1)
        inside = sum(f in censored for f in frames)
        items.append(DropItem(dropped, 2 * inside > len(frames)))
    return items


@dataclass(frozen=True)
class DropScores:
    """Precision and recall of the filter's drops, with their bootstrap intervals."""

    precision: Interval | None
    recall: Interval | None
    items: int
    censored: int
    dropped: int

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"items": self.items, "censored": self.censored,
                               "dropped": self.dropped}  # fmt: skip
        for name in ("precision", "recall"):
            figure: Interval | None = getattr(self, name)
            out[name] = None if figure is None else round(figure.value, 4)
            out[f"{name}_ci95"] = None if figure is None else figure.bounds()
            out[f"{name}_one_item"] = None if figure is None else round(figure.one_item, 4)
        return out


def drop_scores(items: Iterable[DropItem], **kwargs: Any) -> DropScores:
    """Precision (censored share of the drops) and recall (dropped share of the censored).

    Args:
        items: the items looked at.
        **kwargs: :func:`mosaicflow.bootstrap.bootstrap`'s ``resamples``, ``level``, ``seed``.
    """
    listed: Sequence[DropItem] = list(items)
    dropped = np.array([i.dropped for i in listed], bool)
    truth = np.array([i.censored for i in listed], bool)
    precision = proportion_interval(truth[dropped], **kwargs) if dropped.any() else None
    recall = proportion_interval(dropped[truth], **kwargs) if truth.any() else None
    return DropScores(precision, recall, len(listed), int(truth.sum()), int(dropped.sum()))
