"""The clip dataset's rule entry points: typed jobs, line-up checks, results."""

from __future__ import annotations

from pathlib import Path

import pytest

from mosaicflow.datasets.clips.jobs import ClipJob, ClipJobResult, build_clips, scored_videos


def test_scored_videos_line_up_ids_truth_frames_and_regions():
    flat = ["a.mp4", "a.mkv", "a.json", "b.mp4", "b.mkv", "b.json"]
    videos = scored_videos(["a", "b"], flat, ["fa.parquet", "fb.parquet"], ["ra", "rb"])
    assert [(v.video_id, v.video.name, v.truth_mkv.name, v.truth_json.name) for v in videos] == [
        ("a", "a.mp4", "a.mkv", "a.json"),
        ("b", "b.mp4", "b.mkv", "b.json"),
    ]
    assert [v.frames_index.name for v in videos] == ["fa.parquet", "fb.parquet"]
    assert [v.regions for v in videos] == [Path("ra"), Path("rb")]
    # no region tables: the clips were cut around the truth
    assert all(v.regions is None for v in scored_videos(["a", "b"], flat, ["fa", "fb"]))


@pytest.mark.parametrize(
    ("ids", "frames", "regions"),
    [(["a"], ["fa", "fb"], []), (["a", "b"], ["fa"], []), (["a", "b"], ["fa", "fb"], ["r"])],
)
def test_scored_videos_that_do_not_line_up_are_refused(ids, frames, regions):
    flat = ["a.mp4", "a.mkv", "a.json", "b.mp4", "b.mkv", "b.json"]
    with pytest.raises(ValueError, match="do not line up"):
        scored_videos(ids, flat, frames, regions)
    with pytest.raises(ValueError, match="triples"):
        scored_videos(["a"], flat[:4], ["fa"])


def test_a_clip_job_needs_regions_or_truth(tmp_path: Path):
    job = ClipJob(
        video_id="v", video=tmp_path / "v.mp4", frames_index=tmp_path / "i.parquet", regions=None,
        truth=None, dataset_dir=tmp_path, manifest=tmp_path / "v.json", work=tmp_path / "w",
        seed=0, code="c",
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"v\.mp4: no region table and no truth"):
        build_clips(job, None, None)  # type: ignore[arg-type]


def test_result_counts_kept_clips():
    result = ClipJobResult([{"status": "kept"}, {"status": "filtered"}, {"status": "kept"}])
    assert result.kept == 2 and result.timings == {}
