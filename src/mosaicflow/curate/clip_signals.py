"""What a reviewer wants to know about each restoration clip, in one table (rule score_clips).

Per kept clip of one video, from its metadata record and the video's region table:

- ``conf_mean`` / ``conf_min``: the region segmenter's confidence over the clip's detected
  frames (the track's own rows);
- ``contrast_drop``: the segmenter's confidence in the region on a few detected frames minus
  that on the same frames with their contrast lowered (:mod:`.contrast_check`; NaN when off);
- ``detected_share``: share of the clip's frames with a detection (the rest are bridged gaps);
- ``box_jitter``: mean absolute second difference of the region box centre (pixels per frame
  squared) over the mean box diagonal: a steady track scores near 0;
- ``area_cv``: coefficient of variation of the region mask area over the detected frames;
- ``shape_change``: how much the mask's outline changes over the clip, position and size set
  aside (:func:`shape_change`): a rigid object (a logo, a prop, an overlay) scores near 0, a
  deforming one higher;
- ``motion_residual``: the optical flow inside the mask less the best similarity transform
  (:mod:`.motion`; clip pixels): near the flow's noise for a region that moves as one piece,
  higher for one that deforms; NaN without the clip's frames;
- ``id_switches``: tracker ids joined into the clip's track, minus one;
- ``watermark``, ``blockiness``, ``quality``: the clip analysers' results
  (:mod:`mosaicflow.datasets.clips.analysers`);
- ``nudenet``: with a second-opinion detector, the best overlap (intersection over the
  detection box) of a box of the configured classes with the clip's region box, over a few
  evenly spaced frames (NaN when off);
- ``clip_sha256``: the clip file's hash, which binds review verdicts to the clip's content;
- ``truth_false`` (videos with ground truth only): the clip's masks overlap every true target
  by IoU < 0.1 (:func:`mosaicflow.datasets.clips.evaluate.score_clip`); NaN elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mosaicflow.curate.contrast_check import contrast_drop
from mosaicflow.curate.motion import motion_residual
from mosaicflow.formats.masks import iou
from mosaicflow.yolo.adapter import Detections
from mosaicflow.yolo.watermark import overlap_fraction, sample_indices

#: The signal columns, in table order (the model features of :mod:`.clip_ranking`).
SIGNALS: tuple[str, ...] = (
    "conf_mean",
    "conf_min",
    "contrast_drop",
    "detected_share",
    "box_jitter",
    "area_cv",
    "shape_change",
    "motion_residual",
    "id_switches",
    "watermark",
    "blockiness",
    "quality",
    "nudenet",
)
#: Columns of a signals table.
COLUMNS: tuple[str, ...] = ("clip", "video", "clip_sha256", "frames", *SIGNALS, "truth_false")
#: Its text columns (the others are float64).
TEXT_COLUMNS = ("clip", "video", "clip_sha256")
#: Frames of a clip the second-opinion detector looks at.
NUDENET_FRAMES = 4
#: Detected frames of a clip the contrast check looks at.
CONTRAST_FRAMES = 4
#: Detected frames of a clip whose mask shapes :func:`shape_change` compares.
SHAPE_FRAMES = 8
#: Side of the grid the masks are normalised onto; a mask's square root of area maps to a quarter.
SHAPE_GRID = 64

#: A second opinion: ``frames (T, H, W, 3) RGB -> per frame, (N, 4) xyxy boxes``.
SecondOpinion = Callable[[np.ndarray], Sequence[np.ndarray]]


def track_table(regions: pd.DataFrame) -> pd.DataFrame:
    """A video's region rows indexed by ``(frame, track_id)`` (one row per key), built once per
    video for :func:`clip_signals`."""
    table = regions[regions["track_id"] >= 0].drop_duplicates(["frame", "track_id"])
    return table.set_index(["frame", "track_id"])


def _track_rows(record: Mapping[str, Any], tracks: pd.DataFrame) -> pd.DataFrame:
    """The region rows of the clip's detected frames (tracker row of each frame)."""
    keys = [(int(f["frame"]), int(f["source_track"])) for f in record["per_frame"] if f["detected"]]
    return tracks.loc[[k for k in keys if k in tracks.index]]


def box_jitter(boxes: np.ndarray) -> float:
    """Mean absolute second difference of the box centres over the mean box diagonal."""
    if len(boxes) < 3:
        return 0.0
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    sizes = boxes[:, 2:] - boxes[:, :2]
    diagonal = float(np.hypot(sizes[:, 0], sizes[:, 1]).mean())
    if diagonal <= 0:
        return 0.0
    return float(np.abs(np.diff(centres, n=2, axis=0)).sum(axis=1).mean() / diagonal)


def normalised_shape(mask: np.ndarray, grid: int = SHAPE_GRID) -> np.ndarray | None:
    """A mask moved so its centroid is the grid's centre and scaled so the square root of its
    area is a quarter of the grid (``(grid, grid)`` bool), or None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    scale = grid / 4.0 / np.sqrt(len(xs))
    warp = np.array(
        [
            [scale, 0.0, grid / 2.0 - xs.mean() * scale],
            [0.0, scale, grid / 2.0 - ys.mean() * scale],
        ],
        np.float32,
    )
    moved = cv2.warpAffine(mask.astype(np.uint8), warp, (grid, grid), flags=cv2.INTER_LINEAR)
    return moved > 0


def shape_change(masks: Sequence[np.ndarray]) -> float:
    """1 - the mean IoU between the first mask and each later one, every mask normalised in
    position and size (:func:`normalised_shape`), over up to :data:`SHAPE_FRAMES` evenly spaced
    masks: 0 for a shape that only moves and scales, towards 1 for one that deforms. 0 for
    fewer than two non-empty masks."""
    picked = [masks[i] for i in sample_indices(len(masks), SHAPE_FRAMES)]
    shapes = [s for s in (normalised_shape(m > 0) for m in picked) if s is not None]
    if len(shapes) < 2:
        return 0.0
    return float(1.0 - np.mean([iou(shapes[0], s) for s in shapes[1:]]))


def clip_signals(
    record: Mapping[str, Any],
    tracks: pd.DataFrame,
    masks: np.ndarray | None = None,
    frames: np.ndarray | None = None,
) -> dict[str, float]:
    """The track signals of one clip record (without the second opinion and the truth).

    Args:
        record: the clip's metadata (:mod:`mosaicflow.datasets.clips.meta`).
        tracks: the video's region table indexed by :func:`track_table`.
        masks: the clip's mask video ``(T, H, W)``, one frame per ``per_frame`` entry; None
            leaves ``shape_change`` and ``motion_residual`` NaN.
        frames: the clip's frames ``(T, H, W)`` uint8 grey; None leaves ``motion_residual``
            NaN.
    """
    per_frame = record["per_frame"]
    rows = _track_rows(record, tracks)
    scores = rows["score"].to_numpy(np.float64)
    areas = rows["area"].to_numpy(np.float64)
    boxes = np.array([f["region_box"] for f in per_frame if f["detected"]], np.float64)
    found = record["analysers"] or {}
    detected = [i for i, f in enumerate(per_frame) if f["detected"]]

    def num(value: Any) -> float:
        return np.nan if value is None else float(value)

    return {
        "conf_mean": float(scores.mean()) if len(scores) else np.nan,
        "conf_min": float(scores.min()) if len(scores) else np.nan,
        "detected_share": sum(bool(f["detected"]) for f in per_frame) / max(1, len(per_frame)),
        "box_jitter": box_jitter(boxes.reshape(-1, 4)),
        "area_cv": float(areas.std() / areas.mean()) if len(areas) and areas.mean() > 0 else 0.0,
        "shape_change": np.nan if masks is None else shape_change(masks[detected]),
        "motion_residual": (
            np.nan if masks is None or frames is None else motion_residual(frames, masks)
        ),
        "id_switches": float(
            max(0, len({int(f["source_track"]) for f in per_frame if f["detected"]}) - 1)
        ),
        "watermark": num(found.get("watermark")),
        "blockiness": num(found.get("blockiness")),
        "quality": num(found.get("quality")),
    }


def opinion_frames(record: Mapping[str, Any]) -> list[int]:
    """The :data:`NUDENET_FRAMES` evenly spaced source frame numbers of a clip that the second
    opinion looks at."""
    per_frame = record["per_frame"]
    return [int(per_frame[i]["frame"]) for i in sample_indices(len(per_frame), NUDENET_FRAMES)]


def contrast_frames(record: Mapping[str, Any]) -> list[int]:
    """The :data:`CONTRAST_FRAMES` evenly spaced detected source frame numbers of a clip that
    the contrast check looks at."""
    detected = [int(f["frame"]) for f in record["per_frame"] if f["detected"]]
    return [detected[i] for i in sample_indices(len(detected), CONTRAST_FRAMES)]


def second_opinion_overlap(record: Mapping[str, Any], boxes: Mapping[int, np.ndarray]) -> float:
    """Best overlap of the second opinion's boxes with the clip's region box on the frames of
    :func:`opinion_frames`.

    Args:
        record: the clip's metadata.
        boxes: source frame number -> the detector's ``(N, 4)`` xyxy boxes on it.
    """
    region = {int(f["frame"]): f["region_box"] for f in record["per_frame"]}
    overlaps = [overlap_fraction(region[n], boxes[n]) for n in opinion_frames(record)]
    return max(overlaps, default=0.0)


def signals_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A signals table from row dicts (missing columns NaN), sorted by clip."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for column in COLUMNS:
        frame[column] = frame[column].astype("string" if column in TEXT_COLUMNS else "float64")
    return frame.sort_values("clip", kind="stable").reset_index(drop=True)


def video_signals(
    records: Sequence[Mapping[str, Any]],
    regions: pd.DataFrame,
    *,
    truth: Callable[[Mapping[str, Any]], bool] | None = None,
    opinion_boxes: Mapping[int, np.ndarray] | None = None,
    clip_hash: Callable[[Mapping[str, Any]], str] | None = None,
    masks: Callable[[Mapping[str, Any]], np.ndarray] | None = None,
    frames: Callable[[Mapping[str, Any]], np.ndarray] | None = None,
    contrast: Mapping[int, tuple[Detections, Detections]] | None = None,
) -> pd.DataFrame:
    """The signals of a video's kept clips.

    Args:
        records: the video's clip records (its manifest's ``clips``); only kept ones are scored.
        regions: the video's region table.
        truth: clip record -> whether it is a false clip (videos with ground truth).
        opinion_boxes: the second opinion's boxes per source frame number (at least the frames
            of :func:`opinion_frames` of every kept clip).
        clip_hash: clip record -> SHA-256 of its clip file (binds verdicts to the content).
        masks: clip record -> its mask video ``(T, H, W)`` (for ``shape_change`` and
            ``motion_residual``).
        frames: clip record -> its clip's frames ``(T, H, W)`` uint8 grey (for
            ``motion_residual``).
        contrast: source frame number -> the segmenter's detections on the plain frame and on
            the frame with lowered contrast (at least the frames of :func:`contrast_frames` of
            every kept clip).
    """
    tracks = track_table(regions)
    rows = []
    for record in records:
        if record["status"] != "kept":
            continue
        row: dict[str, Any] = {
            "clip": record["clip"],
            "video": record["video"],
            "frames": record["n_frames"],
            **clip_signals(
                record,
                tracks,
                None if masks is None else masks(record),
                None if frames is None else frames(record),
            ),
        }
        if opinion_boxes is not None:
            row["nudenet"] = second_opinion_overlap(record, opinion_boxes)
        if contrast is not None:
            row["contrast_drop"] = contrast_drop(record, contrast_frames(record), contrast)
        if truth is not None:
            row["truth_false"] = float(truth(record))
        if clip_hash is not None:
            row["clip_sha256"] = clip_hash(record)
        rows.append(row)
    return signals_frame(rows)


def read_signals(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Concatenate per-video signal tables (checks their columns; names the file)."""
    frames = []
    for path in paths:
        frame = pd.read_parquet(path)
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: not a clip signals table (missing columns {missing})")
        frames.append(frame[list(COLUMNS)])
    if not frames:
        return signals_frame([])
    return signals_frame(pd.concat(frames, ignore_index=True).to_dict("records"))
