"""Detections grouped into tracks over time, and tracks cut into clips, while streaming.

A track follows one mosaic region from frame to frame: an instance joins the track whose box
(on its last detected frame) it overlaps most (box IoU at least ``min_iou``; each track takes at
most one instance per frame). A track that finds no instance stays open for up to ``max_gap``
frames: found again within them, the frames it missed are bridged with the union of the masks
of the two detections around the gap (a detector that drops a mosaic for a frame or two would
otherwise leave it pixelated there, flickering in the output). A clip is a run of consecutive
frames of one track; it ends when

- ``gap``: the track finds no instance for more than ``max_gap`` frames (the clip ends at its
  last detection; a frame no clip covers is passed through untouched),
- ``max_length``: the clip reached ``max_clip_frames`` (the track goes on in a new clip that
  starts ``overlap`` frames before the cut: those frames are restored by both clips and
  crossfaded, so the cut leaves no seam),
- ``scene_cut``: the next frame starts a new scene (every track ends),
- ``end``: the video ended.

Instances are stored compactly (box + the mask inside the box), so a clip holds no full frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from mosaicflow.inference.protocols import Detections

CUT_REASONS = ("gap", "max_length", "scene_cut", "end")


@dataclass
class Instance:
    """One detected region in one frame.

    Attributes:
        box: ``(x0, y0, x1, y1)`` pixel bounds of the mask (end exclusive).
        mask: bool mask inside the box (``(y1 - y0, x1 - x0)``).
        score: the detector's confidence (0 for a bridged instance).
        track_id: the track it joined (set by :class:`ClipCutter`; -1 before).
        bridged: made by :class:`ClipCutter` for a frame inside a bridged gap, not detected.
    """

    box: tuple[int, int, int, int]
    mask: np.ndarray
    score: float = 1.0
    track_id: int = -1
    bridged: bool = False

    @property
    def area(self) -> int:
        """Mask pixels."""
        return int(self.mask.sum())

    def full_mask(self, height: int, width: int) -> np.ndarray:
        """The mask at frame size (bool ``(height, width)``)."""
        full = np.zeros((height, width), bool)
        x0, y0, x1, y1 = self.box
        full[y0:y1, x0:x1] = self.mask
        return full


def instances_from_detections(detections: Detections) -> list[Instance]:
    """Compact :class:`Instance` objects of a frame's detections (empty masks are dropped)."""
    instances = []
    for mask, score in zip(detections.masks, detections.scores, strict=True):
        rows = np.flatnonzero(mask.any(axis=1))
        if not len(rows):
            continue
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        cols = np.flatnonzero(mask[y0:y1].any(axis=0))  # only the rows the mask spans
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        instances.append(Instance((x0, y0, x1, y1), mask[y0:y1, x0:x1].copy(), float(score)))
    return instances


def bridge(before: Instance, after: Instance) -> Instance:
    """The instance of a frame inside a gap: the union of the masks of the detections before
    and after it, in their union box (score 0, ``bridged``)."""
    ax0, ay0, ax1, ay1 = before.box
    bx0, by0, bx1, by1 = after.box
    x0, y0, x1, y1 = min(ax0, bx0), min(ay0, by0), max(ax1, bx1), max(ay1, by1)
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    mask[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] |= before.mask
    mask[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] |= after.mask
    return Instance((x0, y0, x1, y1), mask, 0.0, after.track_id, bridged=True)


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Clip:
    """Consecutive frames of one track, ready to be restored.

    Attributes:
        track_id: the track.
        start: first frame number.
        instances: one instance per frame, ``start``, ``start + 1``, ...
        reason: why it ended (one of :data:`CUT_REASONS`).
        lead_in: leading frames shared with the previous clip of the track (cut at
            ``max_length``): they are crossfaded from that clip into this one.
    """

    track_id: int
    start: int
    instances: list[Instance] = field(default_factory=list)
    reason: str = ""
    lead_in: int = 0

    @property
    def end(self) -> int:
        """Last frame number (inclusive)."""
        return self.start + len(self.instances) - 1

    @property
    def frames(self) -> range:
        """The clip's frame numbers."""
        return range(self.start, self.start + len(self.instances))

    def boxes(self) -> np.ndarray:
        """``(T, 4)`` float boxes of the instances."""
        return np.array([inst.box for inst in self.instances], dtype=np.float64)


class ClipCutter:
    """Streaming tracker: push each frame's instances in order, collect finished clips.

    Args:
        max_clip_frames: longest clip; a longer track is cut into several clips.
        min_iou: smallest box IoU between an instance and a track's last box to join it.
        max_gap: most consecutive frames a track may miss and still continue, bridged
            (0: a track ends at its first missed frame).
        overlap: frames a clip cut at ``max_length`` shares with the next clip of its track
            (below ``max_clip_frames``).
    """

    def __init__(
        self, max_clip_frames: int, min_iou: float = 0.1, max_gap: int = 0, overlap: int = 0
    ) -> None:
        if max_clip_frames < 1:
            raise ValueError(f"max_clip_frames must be >= 1, got {max_clip_frames}")
        if max_gap < 0:
            raise ValueError(f"max_gap must be >= 0, got {max_gap}")
        if not 0 <= overlap < max_clip_frames:
            raise ValueError(
                f"overlap must be in 0..max_clip_frames - 1 ({max_clip_frames - 1}), got {overlap}"
            )
        self.max_clip_frames = int(max_clip_frames)
        self.min_iou = float(min_iou)
        self.max_gap = int(max_gap)
        self.overlap = int(overlap)
        self._open: dict[int, Clip] = {}
        self._last: dict[int, Instance] = {}
        self._missed: dict[int, int] = {}
        self._next_track = 0
        self._frame = -1

    def earliest_open_frame(self) -> int | None:
        """First frame of the oldest clip still open, counting the frames of a gap that may
        still be bridged (``None`` when none is)."""
        starts = [
            clip.start
            for track, clip in self._open.items()
            if clip.instances or self._missed[track]
        ]
        return min(starts) if starts else None

    def push(self, frame: int, instances: Iterable[Instance]) -> list[Clip]:
        """Add frame ``frame``'s instances (sets their ``track_id``).

        Args:
            frame: the frame number; must be the previous one plus 1.
            instances: the frame's instances.

        Returns:
            The clips that ended (``gap`` before this frame, ``max_length`` with it).
        """
        if frame != self._frame + 1:
            raise ValueError(f"frames must be pushed in order: got {frame} after {self._frame}")
        self._frame = frame
        instances = list(instances)
        pairs = sorted(
            (
                (box_iou(inst.box, self._last[track].box), i, track)
                for i, inst in enumerate(instances)
                for track in self._open
            ),
            reverse=True,
        )
        matched_instances: set[int] = set()
        matched_tracks: set[int] = set()
        for iou, i, track in pairs:
            if iou < self.min_iou:
                break
            if i in matched_instances or track in matched_tracks:
                continue
            matched_instances.add(i)
            matched_tracks.add(track)
            instances[i].track_id = track
        finished = []
        for track in list(self._open):
            if track in matched_tracks:
                continue
            if self._missed[track] < self.max_gap:
                self._missed[track] += 1
            else:
                finished.append(self._close(track, "gap"))
        for i, inst in enumerate(instances):
            if i not in matched_instances:
                inst.track_id = self._next_track
                self._next_track += 1
                self._open[inst.track_id] = Clip(inst.track_id, frame)
                self._missed[inst.track_id] = 0
            track = inst.track_id
            missed = self._missed[track]
            # one bridged instance serves every missed frame (clips only read instances)
            filled = [bridge(self._last[track], inst)] * missed if missed else []
            for number, member in enumerate([*filled, inst], start=frame - missed):
                finished += self._append(track, number, member)
            self._last[track] = inst
            self._missed[track] = 0
        return [clip for clip in finished if clip.instances]

    def _append(self, track: int, frame: int, inst: Instance) -> list[Clip]:
        """Add frame ``frame``'s instance to the track's clip; the clip if that filled it."""
        clip = self._open[track]
        if not clip.instances:
            clip.start = frame
        clip.instances.append(inst)
        if len(clip.instances) >= self.max_clip_frames:
            return [self._cut(track, frame + 1)]
        return []

    def cut_scene(self) -> list[Clip]:
        """End every track before a scene cut; returns their clips."""
        return self._close_all("scene_cut")

    def finish(self) -> list[Clip]:
        """End every track at the end of the video; returns their clips."""
        return self._close_all("end")

    def _close_all(self, reason: str) -> list[Clip]:
        finished = [self._close(track, reason) for track in list(self._open)]
        return [clip for clip in finished if clip.instances]

    def _cut(self, track: int, next_start: int) -> Clip:
        """Finish the track's clip at ``max_length``; the track stays open with a clip that
        holds the last ``overlap`` instances (starting ``overlap`` frames before
        ``next_start``)."""
        clip = self._open[track]
        clip.reason = "max_length"
        shared = clip.instances[len(clip.instances) - self.overlap :] if self.overlap else []
        self._open[track] = Clip(track, next_start - len(shared), list(shared), lead_in=len(shared))
        return clip

    def _close(self, track: int, reason: str) -> Clip:
        """End the track; its clip ends at its last detection (frames missed since are left).
        A clip holding only the frames it shares with the previous clip is emptied: that clip
        restored them already."""
        clip = self._open.pop(track)
        self._last.pop(track, None)
        self._missed.pop(track, None)
        clip.reason = reason
        if len(clip.instances) <= clip.lead_in:
            clip.instances = []
        return clip
