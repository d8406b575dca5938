"""Score whole source videos with a trained source-quality classifier (``mosaicflow quality``):
which videos of a collection are poor before the workflow spends anything on them."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mosaicflow.video.decode import VideoDecodeError, iter_frames, probe_video
from mosaicflow.video.files import video_files

LOG = logging.getLogger(__name__)

#: Frame score under which a frame counts as poor in ``poor_share``.
POOR_BELOW = 0.5

#: Scores one RGB frame: ``(five crops, one resize)`` P(clean).
FrameScorer = Callable[[np.ndarray], tuple[float, float]]


def find_videos(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The video files of ``paths``: files as given, folders searched as the workflow's folder
    source searches them (:func:`mosaicflow.video.files.video_files`), sorted, each once.

    Raises:
        FileNotFoundError: a path that does not exist (names it).
    """
    found: set[Path] = set()
    for given in map(Path, paths):
        if given.is_file():
            found.add(given)
        elif given.is_dir():
            found.update(video_files(given))
        else:
            raise FileNotFoundError(f"{given}: no such file or folder")
    return sorted(found)


def spread_frames(frame_count: int, count: int, margin: float = 0.05) -> list[int]:
    """``count`` frame numbers spread evenly over ``frame_count`` frames, the last ``margin``
    share left out (containers often announce a few frames more than they decode)."""
    usable = max(1, int(frame_count * (1.0 - margin)))
    return np.unique(np.linspace(0, usable - 1, min(count, usable)).round().astype(int)).tolist()


def _sampled_frames(video: Path, count: int) -> Iterator[tuple[int, np.ndarray]]:
    """About ``count`` RGB frames spread over the video. A container that does not say how many
    frames it holds is decoded twice: once to count them, once for the chosen ones; one that
    ends (or breaks) before its chosen frames gives those read up to there, with a warning."""
    probe = probe_video(video)
    announced = probe.frame_count or round((probe.duration or 0.0) * probe.fps)
    if announced > 0:
        yielded = 0
        try:
            for pair in iter_frames(video, spread_frames(announced, count), threads=1):
                yielded += 1
                yield pair
        except VideoDecodeError as error:
            if not yielded:
                raise
            # fewer frames than announced, or damage past the start: the frames read are scored
            LOG.warning("quality: %d frames scored before: %s", yielded, error)
        return
    total = sum(1 for _ in iter_frames(video, fmt="gray", threads=1))
    if total:
        yield from iter_frames(video, spread_frames(total, count, margin=0.0), threads=1)


def survey_video(video: Path, scorer: FrameScorer, frames: int) -> dict[str, object]:
    """One row of :func:`survey_videos`."""
    five, resize = [], []
    for _, rgb in _sampled_frames(video, frames):
        score, whole = scorer(rgb)
        five.append(score)
        resize.append(whole)
    if not five:
        raise VideoDecodeError(f"{video}: no frame decoded")
    scores = np.asarray(five)
    return {
        "video": str(video),
        "frames": len(five),
        "source_quality": round(float(scores.mean()), 4),
        "source_quality_min": round(float(scores.min()), 4),
        "poor_share": round(float((scores < POOR_BELOW).mean()), 4),
        "source_quality_resize": round(float(np.mean(resize)), 4),
        "error": "",
    }


def survey_videos(videos: Sequence[Path], scorer: FrameScorer, frames: int) -> pd.DataFrame:
    """Score ``frames`` frames spread over each video; one row per video, poorest first.

    Columns: ``video``, ``frames`` (scored), ``source_quality`` (mean frame P(clean) from five
    crops), ``source_quality_min``, ``poor_share`` (share of frames below :data:`POOR_BELOW`),
    ``source_quality_resize`` (the same from one resize), ``error`` (why a video that could not
    be read has no score; its scores are NaN and it is listed last).
    """
    rows = []
    for number, video in enumerate(videos, 1):
        try:
            rows.append(survey_video(video, scorer, frames))
        except (VideoDecodeError, OSError) as error:
            LOG.warning("quality: %s", error)
            rows.append({"video": str(video), "frames": 0, "error": str(error)})
        LOG.info("quality: %d/%d %s", number, len(videos), video)
    table = pd.DataFrame(
        rows,
        columns=[
            "video",
            "frames",
            "source_quality",
            "source_quality_min",
            "poor_share",
            "source_quality_resize",
            "error",
        ],
    )
    table["error"] = table["error"].fillna("")
    return table.sort_values(
        ["source_quality", "video"], na_position="last", kind="stable"
    ).reset_index(drop=True)
