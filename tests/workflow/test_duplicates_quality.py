"""Duplicate search on the demo run: the world's own re-uploads (``world.reuploads``) and more
made by the test from the demo's source videos (re-encoded at a lower quality, rescaled,
cropped, another watermark, shifted in time) are found among all the demo's videos, no two
distinct demo videos are paired, and the demo's datasets keep every duplicate group in one
split and leave dropped copies out."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest

from mosaicflow.curate.config import DuplicatesConfig
from mosaicflow.curate.duplicates import find_duplicates
from mosaicflow.formats.truth import load_truth_json
from mosaicflow.ids import video_id
from mosaicflow.video.cli import frames_config
from mosaicflow.video.frames import extract_frames

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

RECALL = 0.95
PRECISION = 0.99
#: Re-uploads the test makes of every demo video: each figure then rests on enough pairs that
#: one pair moves it by at most a quarter of its distance to the floor (source-copy pairs for
#: the recall, every pair found for the precision, which needs 400 and more).
COPIES = 5
#: Share of the re-uploads dropped (found at `drop_overlap` or more in a better member of their
#: group); those cropped by 4-5 % per side are found at about 0.73 and kept.
DROPPED = 0.7


def decoded_frames(source: Path) -> list[np.ndarray]:
    """Every frame of ``source`` as RGB."""
    with av.open(str(source)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def reupload(frames: list[np.ndarray], out: Path, rng: np.random.Generator) -> dict:
    """Write a re-upload of a video's ``frames``: a later start, maybe half the frame rate, a
    few percent cropped, rescaled, a text watermark of its own, re-encoded at a higher CRF.
    Returns what was drawn."""
    drawn = {
        "shift": int(rng.integers(2, 16)),
        "step": int(rng.integers(1, 3)),  # 2: every other frame, at half the frame rate
        "crop": float(rng.uniform(0.01, 0.05)),
        "scale": float(rng.uniform(0.5, 0.9)),
        "crf": int(rng.integers(30, 38)),
        "text": f"upload-{int(rng.integers(100, 999))}.tv",
    }
    h, w = frames[0].shape[:2]
    cy, cx = round(drawn["crop"] * h), round(drawn["crop"] * w)
    size = (
        round((w - 2 * cx) * drawn["scale"]) // 2 * 2,
        round((h - 2 * cy) * drawn["scale"]) // 2 * 2,
    )
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(12, drawn["step"]))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": str(drawn["crf"]), "preset": "veryfast"}
        stream.codec_context.thread_count = 1  # one x264 thread: the same bytes on every run
        for frame in frames[drawn["shift"] :: drawn["step"]]:
            small = cv2.resize(frame[cy : h - cy, cx : w - cx], size, interpolation=cv2.INTER_AREA)
            cv2.putText(small, drawn["text"], (size[0] // 3, size[1] - 6),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (240, 240, 240), 1)  # fmt: skip
            container.mux(stream.encode(av.VideoFrame.from_ndarray(small, format="rgb24")))
        container.mux(stream.encode())
    return drawn


def world_copies(demo_results: Path) -> dict[str, str]:
    """Video id of each re-upload the demo world rendered -> the video id of its source."""
    copies = {}
    for path in sorted((demo_results / "world" / "truth").glob("*.json")):
        truth = load_truth_json(path)
        if "reupload" in truth:
            copies[video_id(f"{truth['name']}.mp4")] = video_id(
                f"{truth['reupload']['source']}.mp4"
            )
    return copies


def test_the_worlds_reuploads_are_found_and_split_with_their_source(demo_results):
    """The run's own duplicate search, exactly: every re-upload the world rendered is paired
    with its source and no other pair is found (the rates are bounded on many more pairs by
    the next test)."""
    copies = world_copies(demo_results)
    assert len(copies) >= 4, copies
    expected = {frozenset(pair) for pair in copies.items()}
    pairs = pd.read_parquet(demo_results / "curation" / "duplicate_pairs.parquet")
    found = {frozenset(pair) for pair in zip(pairs["video_a"], pairs["video_b"], strict=True)}
    groups = pd.read_parquet(demo_results / "curation" / "duplicates.parquet").set_index("video")
    dropped = sorted(c for c in copies if not groups.loc[c, "kept"])
    paired, other = len(found & expected), len(found - expected)
    print(f"the world's {len(copies)} re-uploads: {paired} paired with their source, "
          f"{other} other pairs; dropped {len(dropped)}: {dropped}")  # fmt: skip
    assert not expected - found, (sorted(map(sorted, expected - found)), pairs)
    assert not found - expected, sorted(map(sorted, found - expected))
    for copy, source in copies.items():
        assert groups.loc[copy, "group"] == groups.loc[source, "group"]
        assert groups.loc[source, "kept"]
    # every copy sits in its source's split, a copy of a test video included
    clips = pd.read_parquet(demo_results / "restoration_dataset" / "index.parquet")
    split_of = clips.groupby("video")["split"].first()
    for copy, source in copies.items():
        if copy in split_of and source in split_of:
            assert split_of[copy] == split_of[source], (copy, source)
    held_out = [c for c, s in copies.items() if split_of.get(s) == "test"]
    assert held_out and all(split_of.get(c, "test") == "test" for c in held_out)


def make_reuploads(demo_results: Path, own: list[str], tmp_path: Path) -> dict[str, Path]:
    """``COPIES`` re-uploads of each of the ``own`` demo videos, their frames extracted as rule
    extract_frames does; copy folder name -> folder (``zz-<k>-reupload-of-<video>``)."""
    rng = np.random.default_rng(20261126)
    cfg = frames_config()
    folders = {}
    for video in own:
        name = video.rsplit("-", 1)[0]
        frames = decoded_frames(demo_results / "world" / "videos" / f"{name}.mp4")
        for k in range(COPIES):
            folder = tmp_path / f"zz-{k}-reupload-of-{video}"
            folder.mkdir()
            reupload(frames, folder / "video.mp4", rng)
            extract_frames(cfg, folder / "video.mp4", folder / "index.parquet",
                           folder / "probe.json")  # fmt: skip
            folders[folder.name] = folder
    return folders


def judge_reuploads(
    source_of: dict[str, str], made: dict[str, Path], pairs: pd.DataFrame, groups: pd.DataFrame
) -> tuple[list[bool], list[bool], list[bool]]:
    """Per item: each source-copy pair found (recall), each pair found joining two videos of one
    source (precision), each copy dropped."""
    found = set(zip(pairs["video_a"], pairs["video_b"], strict=True))
    expected = sorted((source_of[copy], copy) for copy in made)
    kept = groups.set_index("video")["kept"]
    return (
        [pair in found for pair in expected],
        [source_of[a] == source_of[b] for a, b in sorted(found)],
        [not kept[copy] for copy in sorted(made)],
    )


def test_reuploads_are_found_among_the_demo_videos(demo_results, tmp_path):
    cfg = DuplicatesConfig()
    every = {p.parent.name: p.parent for p in (demo_results / "frames").glob("*/index.parquet")}
    written = pd.read_parquet(demo_results / "curation" / "duplicates.parquet")
    pd.testing.assert_frame_equal(written, find_duplicates(every, cfg)[1])
    copies = world_copies(demo_results)
    own = {video: folder for video, folder in every.items() if video not in copies}
    assert len(own) >= 8, own
    # the demo's own videos, its re-uploads left out: no pair, every video its own group
    pairs, groups = find_duplicates(own, cfg)
    assert pairs.empty, pairs
    assert groups["kept"].all() and (groups["group"] == groups["video"]).all()

    made = make_reuploads(demo_results, sorted(own), tmp_path)
    source_of = {copy: copy.split("-reupload-of-")[1] for copy in made} | {v: v for v in own}
    pairs, groups = find_duplicates(own | made, cfg)
    found_flags, right_flags, dropped_flags = judge_reuploads(source_of, made, pairs, groups)
    recall, precision = np.mean(found_flags), np.mean(right_flags) if right_flags else 0.0
    print(f"{len(made)} re-uploads of {len(own)} videos: source-copy recall {recall:.4f}; "
          f"{len(right_flags)} pairs found, precision {precision:.4f}")  # fmt: skip
    assert len(found_flags) >= 4 / (1 - RECALL), "too few pairs to bound the recall"
    assert len(right_flags) >= 4 / (1 - PRECISION), "too few pairs to bound the precision"
    assert recall >= RECALL, pairs
    assert precision >= PRECISION, pairs
    found = set(zip(pairs["video_a"], pairs["video_b"], strict=True))
    by_video = groups.set_index("video")
    share = pairs.set_index(["video_a", "video_b"])
    for video in own:  # the original has the most pixels: it names its group and is kept
        assert by_video.loc[video, "kept"] and by_video.loc[video, "group"] == video
    for copy in made:
        source = source_of[copy]
        assert by_video.loc[copy, "group"] == source, by_video.loc[copy]
        if by_video.loc[copy, "kept"]:  # less than drop_overlap of it is in the original
            assert (source, copy) not in found or share.loc[(source, copy), "overlap_b"] < (
                cfg.drop_overlap
            ), by_video.loc[copy]
        else:  # dropped for a member of its group holding drop_overlap or more of it
            better = by_video.loc[copy, "duplicate_of"]
            assert source_of[better] == source and by_video.loc[better, "kept"]
            assert by_video.loc[copy, "overlap"] >= cfg.drop_overlap, by_video.loc[copy]
    dropped = sum(dropped_flags)
    print(f"{dropped} of {len(made)} re-uploads dropped as duplicates")
    assert dropped >= DROPPED * len(made)


def test_no_duplicate_group_spans_two_splits_in_the_datasets(demo_results):
    groups = pd.read_parquet(demo_results / "curation" / "duplicates.parquet")
    group_of = dict(zip(groups["video"], groups["group"], strict=True))
    dropped = set(groups.loc[~groups["kept"], "video"])
    clips = pd.read_parquet(demo_results / "restoration_dataset" / "index.parquet")
    samples = pd.read_parquet(demo_results / "detection_dataset" / "samples.parquet")
    for name, table in (("clips", clips[clips["kept"]]), ("detection samples", samples)):
        assert set(table["video"]) <= set(group_of), name
        assert not set(table["video"]) & dropped, name
        splits = table.assign(group=table["video"].map(group_of)).groupby("group")["split"]
        assert (splits.nunique() == 1).all(), (name, splits.unique())
