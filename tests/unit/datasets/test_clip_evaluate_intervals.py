"""The restoration clips' contained share and clip-mask IoU carry bootstrap intervals over the
clip frames."""

from __future__ import annotations

from pathlib import Path

from mosaicflow.datasets.clips.evaluate import TruthVideo, evaluate_clips
from tests.unit.datasets.test_clip_evaluate import _clips, _truth, make_source


def test_clip_figures_have_intervals_over_the_clip_frames(tmp_path: Path):
    src = make_source(tmp_path / "src", tracks=2)
    mkv, js = _truth(src, tmp_path, 24, 10, grow=4)  # the segmenter missed a 4 px rim
    index = _clips(src, tmp_path / "out", border=0.0, border_min_px=0, out_size=8,
                   resize="always")  # fmt: skip
    video = TruthVideo("vid-0123abcd", mkv, js, src.regions, src.index)
    result = evaluate_clips(index, tmp_path / "out", [video], min_seconds=0.5, max_gap=2)
    # every crop cuts the rim off (share 0); inside the crop the masks agree (IoU 1)
    assert result["frames"] > 0
    assert result["contained_share"] == 0.0 and result["contained_share_ci95"] == [0.0, 0.0]
    assert result["clip_mask_iou_ci95"] == [1.0, 1.0]
    empty = evaluate_clips(index.iloc[:0], tmp_path / "out", [video], min_seconds=0.5,
                           max_gap=2)  # fmt: skip
    assert empty["frames"] == 0 and empty["contained_share_ci95"] is None
