"""Which frames of a video a labeller should see first: where the model is unsure of itself.

Given a model's detections on consecutive frames, frames are flagged for four reasons:

- ``flicker``: a region that appears on one frame alone (nothing near it on the frames around)
  or vanishes for a single frame inside a track;
- ``partial_track``: a track that the model sees confidently on some frames and misses or sees
  weakly on others (frames of its span without a detection, or with a weak one);
- ``low_confidence``: a region scored between the lowest score looked at and the score that
  counts as found (the closer to found, the higher the frame's priority);
- ``disagree``: a second model's regions cover other pixels (mask IoU of the two models' unions
  below a threshold).

Detections are linked into tracks greedily by box IoU, allowing gaps of a few frames. Each
flagged frame gets a priority (the sum of its reasons' weights); :func:`pick_frames` takes the
highest, keeping picked frames apart so one event is not shown ten times.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mosaicflow.inference.tracks import box_iou

#: The reasons, in the order the page lists them, with the weight each adds to a frame (a
#: low-confidence region adds its weight times its score over the found score).
REASON_WEIGHTS = {"flicker": 3.0, "partial_track": 2.0, "disagree": 2.0, "low_confidence": 1.0}
#: Weak scores named in a frame's note.
NOTED = 3


@dataclass(frozen=True)
class Detection:
    """One region a model found on a frame (pixel coordinates of the frame)."""

    box: tuple[float, float, float, float]
    score: float
    label: str
    polygons: tuple[np.ndarray, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Thresholds:
    """What the flags compare against.

    Attributes:
        found: a detection at or above this score counts as found (tracks, flicker, pre-labels).
        confident: a found detection at or above this score is confident (partial tracks).
        link_iou: box IoU that links a detection to a track.
        max_gap: frames a track may miss and still continue.
        disagree_iou: two models disagree on a frame when their union masks' IoU is below it.
    """

    found: float = 0.25
    confident: float = 0.6
    link_iou: float = 0.3
    max_gap: int = 5
    disagree_iou: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.found <= self.confident <= 1.0:
            raise ValueError(
                f"thresholds: need 0 <= found ({self.found}) <= confident ({self.confident}) <= 1"
            )
        if self.max_gap < 1:
            raise ValueError(f"thresholds: max_gap must be at least 1 frame, got {self.max_gap}")


@dataclass(frozen=True)
class FlaggedFrame:
    """A frame worth labelling: its position in the sequence, reasons and priority."""

    index: int
    reasons: tuple[str, ...]
    priority: float
    notes: tuple[str, ...]


def link_tracks(
    frames: Sequence[Sequence[Detection]], thresholds: Thresholds
) -> list[dict[int, Detection]]:
    """Link the found detections of consecutive frames into tracks.

    A detection joins the track whose last box overlaps it most (IoU at least ``link_iou``)
    among tracks last seen at most ``max_gap`` frames before; each track takes at most one
    detection per frame, the best-scored first.

    Returns:
        Tracks in order of their first frame, each ``{frame index: detection}``.
    """
    tracks: list[dict[int, Detection]] = []
    last: list[int] = []
    for index, detections in enumerate(frames):
        taken: set[int] = set()
        found = [d for d in detections if d.score >= thresholds.found]
        for det in sorted(found, key=lambda d: -d.score):
            best, best_iou = -1, thresholds.link_iou
            for t, track in enumerate(tracks):
                if t in taken or index - last[t] > thresholds.max_gap + 1:
                    continue
                iou = box_iou(track[last[t]].box, det.box)
                if iou >= best_iou:
                    best, best_iou = t, iou
            if best < 0:
                tracks.append({index: det})
                last.append(index)
                taken.add(len(tracks) - 1)
            else:
                tracks[best][index] = det
                last[best] = index
                taken.add(best)
    return tracks


def flag_frames(
    frames: Sequence[Sequence[Detection]],
    thresholds: Thresholds,
    agreement: Mapping[int, float] | None = None,
) -> list[FlaggedFrame]:
    """Flag the frames of one video (see the module docstring).

    Args:
        frames: each frame's detections, consecutive frames in order (all scores at or above
            the lowest score looked at).
        thresholds: what counts as found, confident, linked and disagreeing.
        agreement: per frame index, the mask IoU of two models' unions (None: one model).

    Returns:
        The flagged frames in frame order.
    """
    reasons: dict[int, dict[str, list[str]]] = {}

    def flag(index: int, reason: str, note: str) -> None:
        reasons.setdefault(index, {}).setdefault(reason, []).append(note)

    count = len(frames)
    for track in link_tracks(frames, thresholds):
        seen = sorted(track)
        first, end = seen[0], seen[-1]
        if len(seen) == 1 and 0 < first < count - 1:
            flag(first, "flicker", f"a region on this frame alone (score {track[first].score:.2f})")
        for before, after in itertools.pairwise(seen):
            if after - before == 2:
                flag(before + 1, "flicker", "a tracked region missing on this frame alone")
        confident = [i for i in seen if track[i].score >= thresholds.confident]
        if not confident:
            continue
        top = max(track[i].score for i in confident)
        for index in range(first, end + 1):
            det = track.get(index)
            missing_run = det is None and not (index - 1 in track and index + 1 in track)
            if missing_run:
                flag(index, "partial_track", f"a track seen at {top:.2f} elsewhere is missing")
            elif det is not None and det.score < thresholds.confident:
                flag(
                    index,
                    "partial_track",
                    f"a track seen at {top:.2f} elsewhere scores {det.score:.2f}",
                )
    low_scale: dict[int, float] = {}
    for index, detections in enumerate(frames):
        weak = sorted((d.score for d in detections if d.score < thresholds.found), reverse=True)
        if weak:
            low_scale[index] = weak[0] / thresholds.found if thresholds.found > 0 else 1.0
            scores = ", ".join(f"{s:.2f}" for s in weak[:NOTED])
            more = f" and {len(weak) - NOTED} more" if len(weak) > NOTED else ""
            flag(index, "low_confidence", f"regions at {scores}{more}")
    for index, iou in sorted((agreement or {}).items()):
        if iou < thresholds.disagree_iou:
            flag(index, "disagree", f"the two models' regions overlap at IoU {iou:.2f}")

    flagged = []
    for index in sorted(reasons):
        by_reason = reasons[index]
        ordered = tuple(r for r in REASON_WEIGHTS if r in by_reason)
        priority = sum(REASON_WEIGHTS[r] for r in ordered if r != "low_confidence")
        priority += REASON_WEIGHTS["low_confidence"] * low_scale.get(index, 0.0)
        notes = tuple(note for r in ordered for note in dict.fromkeys(by_reason[r]))
        flagged.append(FlaggedFrame(index, ordered, priority, notes))
    return flagged


def pick_frames(
    flagged: Sequence[FlaggedFrame], count: int, min_spacing: int
) -> list[FlaggedFrame]:
    """The ``count`` flagged frames of highest priority, at least ``min_spacing`` frames apart.

    Ties go to the earlier frame. Returns the picks in frame order.
    """
    if count < 0 or min_spacing < 0:
        raise ValueError(f"count ({count}) and min_spacing ({min_spacing}) must be >= 0")
    picked: list[FlaggedFrame] = []
    for frame in sorted(flagged, key=lambda f: (-f.priority, f.index)):
        if len(picked) == count:
            break
        if all(abs(frame.index - p.index) >= max(min_spacing, 1) for p in picked):
            picked.append(frame)
    return sorted(picked, key=lambda f: f.index)


def union_iou(first: np.ndarray, second: np.ndarray) -> float:
    """IoU of two boolean masks of one frame (1.0 when both are empty)."""
    union = np.logical_or(first, second).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(first, second).sum() / union)
