"""The per-video job of rule score_clips: a video's clip manifest -> its signals table."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow.curate.clip_ranking import rank_clips, ranking_metrics
from mosaicflow.curate.clip_signals import (
    SecondOpinion,
    contrast_frames,
    opinion_frames,
    read_signals,
    video_signals,
)
from mosaicflow.curate.config import ContrastCheckConfig, NudeNetConfig, ReviewConfig
from mosaicflow.curate.contrast_check import lower_contrast
from mosaicflow.datasets.clips.meta import read_manifest
from mosaicflow.io import write_json, write_parquet
from mosaicflow.provenance import file_hash
from mosaicflow.yolo.adapter import Detections

LOG = logging.getLogger(__name__)


class ClipMasks:
    """clip record -> its mask video ``(T, H, W)``, the last one read kept (the signals and the
    truth check of a clip both read it, one clip after the other)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._last: tuple[str, np.ndarray] | None = None

    def __call__(self, record: Mapping[str, Any]) -> np.ndarray:
        from mosaicflow.datasets.clips.media import read_video

        if self._last is None or self._last[0] != record["clip"]:
            self._last = (
                record["clip"],
                read_video(self.root / record["files"]["mask"], fmt="gray"),
            )
        return self._last[1]


def clip_frames(root: Path) -> Callable[[Mapping[str, Any]], np.ndarray]:
    """clip record -> its clip video's frames ``(T, H, W)`` uint8 grey."""
    from mosaicflow.datasets.clips.media import read_video

    return lambda record: read_video(root / record["files"]["clip"], fmt="gray")


def _truth_judge(truth_mkv: Path, masks: ClipMasks, regions: pd.DataFrame, records: Sequence[Any]):
    """clip record -> whether its masks overlap no true target (IoU < 0.1 over the clip)."""
    from mosaicflow.datasets.clips.evaluate import score_clip
    from mosaicflow.formats.truth import read_truth

    wanted = sorted({int(f["frame"]) for r in records for f in r["per_frame"]})
    frames = dict(read_truth(truth_mkv, wanted)) if wanted else {}
    if frames:
        height, width = next(iter(frames.values())).shape
        ids = np.zeros((max(frames) + 1, height, width), np.uint8)
        for number, frame in frames.items():
            ids[number] = frame

    def judge(record: Mapping[str, Any]) -> bool:
        return score_clip(dict(record), masks(record), ids, regions)["instance"] == 0

    return judge


def on_source_frames(
    video: Path, wanted: Mapping[int, Mapping[str, Callable[[np.ndarray], Any]]]
) -> dict[int, dict[str, Any]]:
    """Source frame number -> {name: what that callable gives on the frame (RGB)}, the video
    decoded once and streamed (only the results are kept)."""
    from mosaicflow.datasets.clips.media import source_frames
    from mosaicflow.video.decode import probe_video

    rotation = probe_video(video).rotation
    numbers = {n: None for n in wanted}
    return {
        n: {name: fn(frame) for name, fn in wanted[n].items()}
        for n, frame in source_frames(video, numbers, rotation)
    }


def _first_of(opinion: SecondOpinion) -> Callable[[np.ndarray], np.ndarray]:
    """frame -> the second opinion's boxes on it."""
    return lambda frame: opinion(frame[None])[0]


def _contrast_pair(segmenter: Callable, check: ContrastCheckConfig) -> Callable:
    """frame -> the segmenter's detections on it and on it with lowered contrast."""

    def pair(frame: np.ndarray) -> tuple[Detections, Detections]:
        plain, lowered = segmenter([frame, lower_contrast(frame, check.gain, check.offset)])
        return plain, lowered

    return pair


def score_video_clips(
    manifest: Path,
    regions_path: Path,
    out: Path,
    *,
    truth_mkv: Path | None = None,
    video: Path | None = None,
    nudenet: NudeNetConfig | None = None,
    opinion: SecondOpinion | None = None,
    contrast_check: ContrastCheckConfig | None = None,
    segmenter: Callable[[list[np.ndarray]], list[Detections]] | None = None,
) -> pd.DataFrame:
    """Write the signals of one video's kept clips (``results/review/signals/<video>.parquet``).

    Args:
        manifest: the video's clip manifest (its clips' files lie beside ``videos/``).
        regions_path: the video's ``regions.parquet``.
        out: the table to write (atomically).
        truth_mkv: the video's truth masks (demo world): adds ``truth_false``.
        video: the source video (for the second opinion and the contrast check).
        nudenet: the second-opinion settings (off: ``nudenet`` stays NaN).
        opinion: a detector to use instead of building the nudenet one (tests).
        contrast_check: the contrast check's settings (off or None: ``contrast_drop`` stays
            NaN).
        segmenter: the region segmenter (:class:`~.contrast_check.SegmenterDetections`), needed
            when the contrast check is on.
    """
    data = read_manifest(manifest)
    root = Path(manifest).parent.parent
    records = data["clips"]
    kept = [r for r in records if r["status"] == "kept"]
    regions = pd.read_parquet(regions_path)
    masks = ClipMasks(root)
    truth = _truth_judge(Path(truth_mkv), masks, regions, kept) if truth_mkv and kept else None
    wanted: dict[int, dict[str, Callable[[np.ndarray], Any]]] = {}
    use_opinion = nudenet is not None and nudenet.enabled and bool(kept)
    check = contrast_check is not None and contrast_check.enabled and bool(kept)
    if use_opinion:
        if opinion is None:
            from mosaicflow.curate.second_opinion import NudeNetOpinion

            opinion = NudeNetOpinion(nudenet.classes, nudenet.min_score)
        boxes_of = _first_of(opinion)
        for n in {n for record in kept for n in opinion_frames(record)}:
            wanted.setdefault(n, {})["nudenet"] = boxes_of
    if check:
        if segmenter is None:
            raise ValueError("review.contrast_check.enabled needs the region segmenter")
        pair = _contrast_pair(segmenter, contrast_check)
        for n in {n for record in kept for n in contrast_frames(record)}:
            wanted.setdefault(n, {})["contrast"] = pair
    if wanted and video is None:
        raise ValueError("review.nudenet and review.contrast_check need the source video")
    found = on_source_frames(Path(video), wanted) if wanted else {}

    def results(name: str) -> dict[int, Any]:
        return {n: got[name] for n, got in found.items() if name in got}

    boxes = results("nudenet") if use_opinion else None
    contrast = results("contrast") if check else None
    table = video_signals(
        records,
        regions,
        truth=truth,
        opinion_boxes=boxes,
        clip_hash=lambda record: file_hash(root / record["files"]["clip"], 64),
        masks=masks,
        frames=clip_frames(root),
        contrast=contrast,
    )
    write_parquet(out, table)
    LOG.info("%s: %d kept clips scored", data["video"], len(table))
    return table


def rank_dataset(
    signals: Sequence[Path],
    verdicts: Path | None,
    config: ReviewConfig,
    ranked_out: Path,
    metrics_out: Path,
    *,
    seed: int,
    duplicates: Path | None = None,
    code: str = "",
) -> dict[str, Any]:
    """Rank every kept clip (``results/review/ranked.parquet``) and write the ranking's summary
    with, on videos with ground truth, its scores (``results/metrics/review.json``).

    Args:
        signals: the per-video signal tables.
        verdicts: ``results/review/verdicts.parquet`` (None before any review).
        config: the ``review`` section.
        ranked_out: the ranked table to write.
        metrics_out: the summary to write.
        seed: the workflow seed.
        duplicates: ``results/curation/duplicates.parquet``: the clips of the videos it drops
            as duplicates are not ranked (they never train); None ranks every video's clips.
        code: the rule's code hash (recorded).
    """
    from mosaicflow.curate.duplicates import read_groups
    from mosaicflow.curate.verdicts import read_verdicts

    table = read_signals(signals)
    _, dropped = read_groups(duplicates)
    table = table[~table["video"].isin(list(dropped))].reset_index(drop=True)
    reviewed = read_verdicts(verdicts) if verdicts else None
    ranked, summary = rank_clips(table, reviewed, config, seed=seed)
    metrics = ranking_metrics(ranked, table, config.top_k, config, seed=seed)
    write_parquet(ranked_out, ranked)
    write_json(metrics_out, {**summary, **metrics, "top_k": config.top_k, "code_hash": code})
    return {**summary, **{k: v for k, v in metrics.items() if k != "review_rounds"}}
