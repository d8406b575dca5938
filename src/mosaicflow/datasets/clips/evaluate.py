"""How well the clips cover the true regions: the restoration dataset's quality bars.

Scored on videos with ground truth (the demo world's test videos): every clip is matched to the
true instance its mask covers most, then per clip frame

- **containment**: the share of that instance's true pixels inside the crop box (a crop that
  cuts the region off teaches the model to paint half a region);
- **clip mask IoU**: the clip's stored mask against the truth cut with the same crop (box,
  scale, padding), next to the **segmenter's own IoU** of the region mask the clip was cut from
  against the truth at full resolution (the clip mask cannot beat it: it is that mask, cropped);

and every true track of at least ``min_seconds`` must yield a clip.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mosaicflow.datasets.clips.crops import CropPlan, crop_image
from mosaicflow.datasets.clips.media import read_video
from mosaicflow.datasets.clips.meta import read_clip_meta

LOG = logging.getLogger(__name__)

#: A crop "contains" its region on a frame when at least this share of the true pixels is inside.
CONTAINED = 0.95
#: A clip whose masks overlap every true instance less than this (IoU over the clip) shows
#: something that is not a true region: a false-positive clip (the segmenter's mistake).
MATCH_IOU = 0.1
#: The segmenter "found" a true region on a frame when one of its masks overlaps it by this IoU
#: (the mAP50 threshold); a true track it did not find long enough cannot yield a clip.
FOUND_IOU = 0.5


@dataclass(frozen=True)
class TruthVideo:
    """A video with ground truth: its id (the clips' ``video``), truth masks, truth JSON, the
    region table its clips were cut from and its frames index (the kept frames)."""

    video_id: str
    truth_mkv: Path
    truth_json: Path
    regions: Path
    frames_index: Path


def longest_run(flags: np.ndarray, max_gap: int = 0) -> int:
    """Length of the longest run of True values, bridging at most ``max_gap`` False ones in a
    row (from the run's first True to its last)."""
    best, start, last = 0, None, None
    for pos in np.flatnonzero(flags):
        if start is None or pos - last > max_gap + 1:
            start = pos
        last = pos
        best = max(best, int(last - start + 1))
    return best


def truth_tracks(ids: np.ndarray, min_frames: int) -> dict[int, int]:
    """True instances whose longest run of consecutive visible frames is >= ``min_frames``.

    Args:
        ids: ``(T, H, W)`` instance-id frames (0 = background), e.g. the kept frames.
        min_frames: shortest run that counts.

    Returns:
        instance id -> its longest run, for the instances that qualify.
    """
    present: dict[int, np.ndarray] = {}
    for t, frame in enumerate(ids):
        for inst in np.unique(frame):
            if inst:
                present.setdefault(int(inst), np.zeros(len(ids), bool))[t] = True
    runs = {inst: longest_run(on) for inst, on in present.items()}
    return {inst: run for inst, run in runs.items() if run >= min_frames}


def found_runs(
    ids: np.ndarray,
    frames: Sequence[int],
    regions: pd.DataFrame,
    tracks: Sequence[int],
    max_gap: int,
) -> dict[int, int]:
    """Per true instance, the longest run of ``frames`` where the segmenter found it (a region
    mask with IoU >= :data:`FOUND_IOU`), bridging ``max_gap`` missed frames as the clips do."""
    from mosaicflow.yolo.infer import decode_rle

    height, width = ids.shape[1:]
    found = regions[(regions["instance"] >= 0) & regions["frame"].isin(frames)]
    masks: dict[int, list[np.ndarray]] = {}
    for row in found.itertuples(index=False):
        masks.setdefault(int(row.frame), []).append(decode_rle(row.rle, height, width))
    out = {}
    for inst in tracks:
        hit = np.zeros(len(frames), bool)
        for k, number in enumerate(frames):
            truth = ids[number] == inst
            if truth.any():
                hit[k] = any((_iou(m, truth) or 0.0) >= FOUND_IOU for m in masks.get(number, []))
        out[int(inst)] = longest_run(hit, max_gap)
    return out


def _plan(meta: dict[str, Any]) -> CropPlan:
    boxes = np.array([f["crop_box"] for f in meta["per_frame"]], dtype=np.int64)
    pad = meta["per_frame"][0]["pad"]
    return CropPlan(
        boxes,
        float(meta["scale"]),
        (int(meta["content_shape"][0]), int(meta["content_shape"][1])),
        (int(pad[0]), int(pad[1]), int(pad[2]), int(pad[3])),
        int(meta["out_shape"][0]),
    )


def _iou(a: np.ndarray, b: np.ndarray) -> float | None:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else None


def _source_rows(meta: dict[str, Any], regions: pd.DataFrame) -> list[Any]:
    """Per clip frame, the region row the clip's mask was cut from (the tracker's row of the
    frame, or of the nearest detected frame in gaps, as the builder does)."""
    entries = meta["per_frame"]
    detected = np.array([bool(f["detected"]) for f in entries])
    hits = np.flatnonzero(detected)
    nearest = hits[np.abs(np.arange(len(entries))[:, None] - hits[None, :]).argmin(axis=1)]
    by_key = regions.drop_duplicates(["frame", "track_id"]).set_index(["frame", "track_id"])
    return [
        by_key.loc[(int(entries[i]["frame"]), int(entries[i]["source_track"]))] for i in nearest
    ]


def score_clip(
    meta: dict[str, Any], clip_masks: np.ndarray, ids: np.ndarray, regions: pd.DataFrame
) -> dict[str, Any]:
    """Match one clip to a true instance and score it frame by frame.

    Args:
        meta: the clip's metadata.
        clip_masks: its stored ``(T, S, S)`` 0/255 masks.
        ids: the video's ``(N, H, W)`` truth instance ids (indexed by frame number).
        regions: the video's region table.

    Returns:
        ``instance`` (0 when the clip's masks overlap no true instance by IoU >= :data:`MATCH_IOU`:
        a false positive), per-frame ``containment``, ``clip_iou`` and ``segmenter_iou`` lists
        (frames where the instance is absent skipped).
    """
    from mosaicflow.yolo.infer import decode_rle

    plan = _plan(meta)
    frames = [int(f["frame"]) for f in meta["per_frame"]]
    votes: dict[int, int] = {}
    cut_ids = []
    for t, number in enumerate(frames):
        x0, y0, x1, y1 = plan.boxes[t]
        crop = ids[number][y0:y1, x0:x1]
        sh, sw = plan.content
        scaled = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_NEAREST)
        top, bottom, left, right = plan.pad
        scaled = np.pad(scaled, ((top, bottom), (left, right)))
        cut_ids.append(scaled)
        values, counts = np.unique(scaled[clip_masks[t] > 0], return_counts=True)
        for value, count in zip(values, counts, strict=True):
            if value:
                votes[int(value)] = votes.get(int(value), 0) + int(count)
    inst = max(sorted(votes), key=lambda k: votes[k]) if votes else 0
    if inst:
        pred = np.stack(clip_masks) > 0
        truth_cut = np.stack(cut_ids) == inst
        if (_iou(pred, truth_cut) or 0.0) < MATCH_IOU:
            inst = 0
    if not inst:
        return {"instance": 0, "containment": [], "clip_iou": [], "segmenter_iou": []}
    height, width = ids.shape[1:]
    rows = _source_rows(meta, regions)
    containment, clip_iou, seg_iou = [], [], []
    for t, number in enumerate(frames):
        truth = ids[number] == inst
        total = int(truth.sum())
        if not total:
            continue
        x0, y0, x1, y1 = plan.boxes[t]
        containment.append(float(truth[y0:y1, x0:x1].sum() / total))
        truth_cut = crop_image(truth.astype(np.uint8) * 255, plan.boxes[t], plan, mask=True)
        clip_iou.append(_iou(clip_masks[t] > 0, truth_cut > 0) or 0.0)
        region = decode_rle(rows[t]["rle"], height, width)
        seg_iou.append(_iou(region, truth) or 0.0)
    return {
        "instance": inst,
        "containment": containment,
        "clip_iou": clip_iou,
        "segmenter_iou": seg_iou,
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 6) if len(values) else None


def _mean_ci95(values: Sequence[float]) -> list[float] | None:
    """Bootstrap interval over the frames of a mean of values in [0, 1]."""
    from mosaicflow.bootstrap import mean_interval

    return mean_interval(values).bounds() if len(values) else None


def evaluate_clips(
    index: pd.DataFrame,
    root: Path,
    videos: Sequence[TruthVideo],
    min_seconds: float,
    max_gap: int,
) -> dict[str, Any]:
    """Score the kept clips of ``videos`` against their ground truth.

    Args:
        index: the clip index (``index.parquet``).
        root: the dataset folder its paths are relative to.
        videos: the videos with truth.
        min_seconds: ``restoration_dataset.min_seconds`` (which true tracks must yield a clip).
        max_gap: ``restoration_dataset.max_gap_frames``.

    Returns:
        Totals (``truth_tracks``: true tracks visible on >= ``min_seconds`` of consecutive kept
        frames; ``found_tracks``: those the segmenter found on >= ``min_seconds`` of them;
        ``tracks_with_clip``; ``missed_by_clips``: found tracks without a clip, the clip stage's
        own failures; ``missed_by_segmenter``: the other missed tracks; ``clips``,
        ``false_positive_clips`` (clips of no true region, left out of the other figures),
        ``frames`` (of the matched clips), ``contained_share`` = share of clip frames whose
        crop holds >= 95 % of the true pixels, mean ``containment``, ``clip_mask_iou``,
        ``segmenter_mask_iou``) and the same per video; ``contained_share_ci95`` and
        ``clip_mask_iou_ci95`` are the totals' bootstrap intervals over the clip frames.
    """
    per_video: list[dict[str, Any]] = []
    missed: dict[str, list[dict[str, Any]]] = {"missed_by_clips": [], "missed_by_segmenter": []}
    total = _FrameScores()
    for video in videos:
        summary, scores = _score_video(video, index, root, min_seconds, max_gap, missed)
        per_video.append(summary)
        total.extend(scores)
        LOG.info("%s: %s", video.video_id, summary)
    return {
        "videos": len(videos),
        "min_seconds": min_seconds,
        "truth_tracks": sum(v["truth_tracks"] for v in per_video),
        "found_tracks": sum(v["found_tracks"] for v in per_video),
        "tracks_with_clip": sum(v["tracks_with_clip"] for v in per_video),
        **missed,
        "clips": sum(v["clips"] for v in per_video),
        "false_positive_clips": sum(v["false_positive_clips"] for v in per_video),
        "frames": len(total.containment),
        "contained_threshold": CONTAINED,
        "contained_share": _mean([c >= CONTAINED for c in total.containment]),
        "contained_share_ci95": _mean_ci95([c >= CONTAINED for c in total.containment]),
        "containment": _mean(total.containment),
        "clip_mask_iou": _mean(total.clip_iou),
        "clip_mask_iou_ci95": _mean_ci95(total.clip_iou),
        "segmenter_mask_iou": _mean(total.seg_iou),
        "per_video": per_video,
    }


@dataclass(frozen=True)
class _FrameScores:
    """Per scored clip frame: containment, clip mask IoU and the segmenter's mask IoU."""

    containment: list[float] = field(default_factory=list)
    clip_iou: list[float] = field(default_factory=list)
    seg_iou: list[float] = field(default_factory=list)

    def extend(self, other: _FrameScores) -> None:
        """Append the frames of ``other``."""
        self.containment.extend(other.containment)
        self.clip_iou.extend(other.clip_iou)
        self.seg_iou.extend(other.seg_iou)


def _score_video(
    video: TruthVideo,
    index: pd.DataFrame,
    root: Path,
    min_seconds: float,
    max_gap: int,
    missed: dict[str, list[dict[str, Any]]],
) -> tuple[dict[str, Any], _FrameScores]:
    """One video's figures and frame scores; its missed true tracks are added to ``missed``."""
    from mosaicflow.formats.truth import load_truth_json, read_truth

    truth = load_truth_json(video.truth_json)
    ids = np.stack([frame for _, frame in read_truth(video.truth_mkv)])
    frames_index = pd.read_parquet(video.frames_index)
    kept = sorted(int(f) for f in frames_index.loc[frames_index["kept"].astype(bool), "frame"])
    min_frames = max(1, int(np.ceil(min_seconds * float(truth["fps"]) - 1e-9)))
    tracks = truth_tracks(ids[kept], min_frames)
    regions = pd.read_parquet(video.regions)
    found = found_runs(ids, kept, regions, sorted(tracks), max_gap)
    rows = index[(index["video"] == video.video_id) & index["kept"].astype(bool)]
    covered, false_pos, scores = _score_clips(rows, root, ids, regions)
    lost = sorted(set(tracks) - covered)
    for inst in lost:
        key = "missed_by_clips" if found[inst] >= min_frames else "missed_by_segmenter"
        missed[key].append(
            {"video": video.video_id, "instance": inst, "kept_frames": tracks[inst],
             "found_frames": found[inst]}
        )  # fmt: skip
    summary = {
        "video": video.video_id,
        "truth_tracks": len(tracks),
        "found_tracks": sum(found[inst] >= min_frames for inst in tracks),
        "tracks_with_clip": len(tracks) - len(lost),
        "clips": len(rows),
        "false_positive_clips": false_pos,
        "frames": len(scores.containment),
        "contained_share": _mean([c >= CONTAINED for c in scores.containment]),
        "clip_mask_iou": _mean(scores.clip_iou),
        "segmenter_mask_iou": _mean(scores.seg_iou),
    }
    return summary, scores


def _score_clips(
    rows: pd.DataFrame, root: Path, ids: np.ndarray, regions: pd.DataFrame
) -> tuple[set[int], int, _FrameScores]:
    """Score a video's kept clips: the true instances they show, false positives, frame scores."""
    covered: set[int] = set()
    false_pos = 0
    scores = _FrameScores()
    for row in rows.itertuples(index=False):
        meta = read_clip_meta(root / row.meta_path)
        masks = read_video(root / row.mask_path, fmt="gray")
        result = score_clip(meta, masks, ids, regions)
        covered.add(result["instance"])
        false_pos += result["instance"] == 0
        scores.containment.extend(result["containment"])
        scores.clip_iou.extend(result["clip_iou"])
        scores.seg_iou.extend(result["segmenter_iou"])
    return covered, false_pos, scores
