"""The contrast check: lowered frames, box matching, the per-clip drop, and the signal in a
video's table (a stand-in segmenter whose confidence follows the detail in a box)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mosaicflow.curate.clip_jobs import score_video_clips
from mosaicflow.curate.clip_signals import CONTRAST_FRAMES, contrast_frames
from mosaicflow.curate.config import ContrastCheckConfig, NudeNetConfig
from mosaicflow.curate.contrast_check import (
    Detections,
    contrast_drop,
    lower_contrast,
    region_confidence,
)
from mosaicflow.curate.label_issues import box_iou
from tests.unit.curate.test_second_opinion import FACE, SUIT, astronaut_clips


def test_lowered_frames_keep_their_order_of_values_in_a_narrower_range():
    frame = np.array([[[0, 100, 255]]], np.uint8)
    assert lower_contrast(frame, 0.7, 20).tolist() == [[[20, 90, 198]]]
    assert lower_contrast(frame, 0.5, 127.5).tolist() == [[[128, 178, 255]]]


def test_a_region_takes_the_best_score_of_the_boxes_that_overlap_it():
    found = Detections.from_boxes(
        np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float64),
        np.array([0.4, 0.6, 0.9]),
    )
    assert box_iou(np.array([[0, 0, 10, 10]], float), found.xyxy())[0].round(3).tolist() == [
        1.0,
        0.681,
        0.0,
    ]
    assert region_confidence((0, 0, 10, 10), found) == 0.6
    assert region_confidence((20, 20, 30, 30), found) == 0.0
    empty = Detections.from_boxes(np.zeros((0, 4)), np.zeros(0))
    assert region_confidence((0, 0, 10, 10), empty) == 0.0


def test_the_drop_is_the_mean_fall_over_the_checked_frames():
    record = {"per_frame": [{"frame": n, "region_box": [0, 0, 10, 10]} for n in (3, 4)]}
    box = np.array([[0, 0, 10, 10]], np.float64)
    plain = {
        3: Detections.from_boxes(box, np.array([0.8])),
        4: Detections.from_boxes(box, np.array([0.6])),
    }
    lowered = {
        3: Detections.from_boxes(box, np.array([0.5])),
        4: Detections.from_boxes(np.zeros((0, 4)), np.zeros(0)),
    }
    found = {n: (plain[n], lowered[n]) for n in (3, 4)}
    assert contrast_drop(record, [3, 4], found) == pytest.approx((0.3 + 0.6) / 2)
    assert np.isnan(contrast_drop(record, [], found))


def test_the_checked_frames_are_evenly_spaced_detected_frames():
    record = {"per_frame": [{"frame": n, "detected": n % 3 != 1} for n in range(20)]}
    frames = contrast_frames(record)
    assert len(frames) == CONTRAST_FRAMES and frames[0] == 0 and frames[-1] == 18
    assert all(n % 3 != 1 for n in frames)


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="contrast_check"):
        ContrastCheckConfig(gain=1.0)
    with pytest.raises(ValueError, match="contrast_check"):
        ContrastCheckConfig(gain=0.7, offset=100.0)


class DetailSegmenter:
    """Finds FACE and SUIT (shifted with the pan) with a score that follows the pixel spread in
    FACE, and a fixed score for SUIT: the face is found by its detail, the suit is not."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, frames):
        self.calls += 1
        out = []
        for frame in frames:
            x0, y0, x1, y1 = FACE
            spread = float(frame[y0:y1, x0:x1].std())
            out.append(
                Detections.from_boxes(
                    np.array([FACE, SUIT], np.float64),
                    np.array([min(1.0, spread / 80.0), 0.5]),
                )
            )
        return out


def test_a_region_found_by_its_detail_drops_and_one_found_otherwise_does_not(tmp_path: Path):
    video, regions, records, manifest = astronaut_clips(tmp_path)
    segmenter = DetailSegmenter()
    table = score_video_clips(
        manifest, regions, tmp_path / "signals.parquet", video=video,
        nudenet=NudeNetConfig(enabled=True), opinion=lambda frames: [np.array([FACE], float)],
        contrast_check=ContrastCheckConfig(), segmenter=segmenter,
    )  # fmt: skip
    tracks = {r["clip"]: r["track"] for r in records}
    drop = dict(zip(table["clip"].map(tracks), table["contrast_drop"], strict=True))
    assert drop[1] > 0.1 and drop[2] == 0.0
    opinion = dict(zip(table["clip"].map(tracks), table["nudenet"], strict=True))
    assert opinion[1] >= 0.9 and opinion[2] == 0.0  # both read in the same pass over the video
    kept = [r for r in records if r["status"] == "kept"]
    assert segmenter.calls == len({n for r in kept for n in contrast_frames(r)})

    off = score_video_clips(
        manifest, regions, tmp_path / "off.parquet", video=video,
        contrast_check=ContrastCheckConfig(enabled=False),
    )  # fmt: skip
    assert off["contrast_drop"].isna().all()
    with pytest.raises(ValueError, match="segmenter"):
        score_video_clips(
            manifest, regions, tmp_path / "x.parquet", video=video,
            contrast_check=ContrastCheckConfig(),
        )  # fmt: skip
