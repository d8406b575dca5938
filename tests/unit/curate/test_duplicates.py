"""Duplicate videos across sources: signatures, pairs, groups, drops, and splits by group."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest

from mosaicflow.curate.config import DuplicatesConfig
from mosaicflow.curate.duplicates import (
    faiss_available,
    find_duplicates,
    find_pairs,
    group_videos,
    matched_counts,
    read_groups,
    search_backend,
    video_signature,
)
from mosaicflow.datasets.clips.config import SplitConfig
from mosaicflow.datasets.clips.index import DUPLICATE_REASON, assign_splits, drop_duplicates
from mosaicflow.datasets.detection.config import DetectionSplitConfig
from mosaicflow.datasets.detection.split import split_samples
from mosaicflow.formats.splits import follow_pinned_groups, unify_group_splits
from mosaicflow.io import write_parquet
from mosaicflow.video.cli import frames_config
from mosaicflow.video.frames import extract_frames
from mosaicflow.video.signature import luma_signature
from tests.unit.datasets.conftest import texture

CFG = DuplicatesConfig()


def pan(seed: int, n: int = 40, size: tuple[int, int] = (96, 160)) -> list[np.ndarray]:
    """``n`` frames panning over a smooth random picture (every frame different)."""
    h, w = size
    picture = texture(np.random.default_rng(seed), h + n, w + 3 * n)
    return [np.ascontiguousarray(picture[i : i + h, 3 * i : 3 * i + w]) for i in range(n)]


def reupload(frames: list[np.ndarray], shift: int = 6) -> list[np.ndarray]:
    """A re-upload: later start, 4 % cropped off every side, scaled to 3/4, a text overlay."""
    out = []
    for frame in frames[shift:]:
        h, w = frame.shape[:2]
        c = round(0.04 * h)
        small = cv2.resize(frame[c : h - c, c : w - c], (w * 3 // 4 // 2 * 2, h * 3 // 4 // 2 * 2))
        cv2.putText(small, "reup.tv", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        out.append(small)
    return out


def write_video(path: Path, frames: list[np.ndarray], crf: int = 20) -> Path:
    """Encode RGB frames with libx264 (10 fps)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "ultrafast"}
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return path


def indexed(tmp_path: Path, name: str, frames: list[np.ndarray], crf: int = 20) -> Path:
    """Write a video and index its frames like rule extract_frames; the frames folder."""
    folder = tmp_path / name
    folder.mkdir()
    video = write_video(folder / "video.mp4", frames, crf)
    extract_frames(frames_config(), video, folder / "index.parquet", folder / "probe.json")
    return folder


def test_reupload_is_found_and_the_smaller_copy_dropped(tmp_path):
    original = pan(1)
    folders = {
        "a-original": indexed(tmp_path, "a-original", original),
        "b-other": indexed(tmp_path, "b-other", pan(2)),
        "c-reupload": indexed(tmp_path, "c-reupload", reupload(original), crf=32),
    }
    signature = video_signature(folders["a-original"], "a-original", CFG.min_std)
    assert len(signature) == len(original) and signature["informative"].all()
    pairs, groups = find_duplicates(folders, CFG)
    assert list(zip(pairs["video_a"], pairs["video_b"], strict=True)) == [
        ("a-original", "c-reupload")
    ]
    assert pairs.loc[0, "overlap_b"] >= CFG.drop_overlap, pairs
    by_video = groups.set_index("video")
    assert by_video.loc["c-reupload", "group"] == by_video.loc["a-original", "group"]
    assert by_video.loc["b-other", "group"] == "b-other"
    assert not by_video.loc["c-reupload", "kept"]
    assert by_video.loc["c-reupload", "duplicate_of"] == "a-original"
    assert by_video.loc["c-reupload", "reason"] == "duplicate"
    assert by_video.loc["a-original", "kept"] and by_video.loc["b-other", "kept"]
    path = tmp_path / "duplicates.parquet"
    write_parquet(path, groups)
    group_of, dropped = read_groups(path)
    assert dropped == {"c-reupload": "a-original"}
    assert group_of["a-original"] == group_of["c-reupload"] != group_of["b-other"]


def test_flat_frames_are_not_informative_and_never_match():
    black = np.zeros((64, 64), np.uint8)
    grey = np.full((200, 300), 90, np.uint8)
    assert luma_signature(black)[1] < CFG.min_std
    assert luma_signature(grey)[1] < CFG.min_std
    assert luma_signature(cv2.cvtColor(pan(3)[0], cv2.COLOR_RGB2GRAY))[1] >= CFG.min_std
    rows = [
        {"video": v, "frame": k, "phash": 0, "informative": False}
        for v in ("fade-a", "fade-b") for k in range(10)
    ]  # fmt: skip
    assert find_pairs(pd.DataFrame(rows), max_distance=10, min_overlap=0.5).empty


def planted_hashes(n: int = 300, videos: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Random frame hashes of ``videos`` videos; 20 frames of video 0 reappear in video 3 with
    3 bits flipped."""
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64).copy()
    owners = rng.integers(0, videos, n)
    for k in np.flatnonzero(owners == 0)[:20]:
        j = int(np.flatnonzero(owners == 3)[k % 10])
        hashes[j] = hashes[k] ^ np.uint64(0b10101)
    return hashes, owners


def dense(table: pd.DataFrame, videos: int = 4) -> np.ndarray:
    out = np.zeros((videos, videos), int)
    out[table["v"], table["w"]] = table["count"]
    return out


def test_matched_counts_equal_a_brute_force_search():
    hashes, owners = planted_hashes()
    counts = dense(matched_counts(hashes, owners, max_distance=4, block=37))
    assert (dense(matched_counts(hashes, owners, max_distance=4)) == counts).all()
    expected = np.zeros((4, 4), int)
    for i in range(300):
        d = np.bitwise_count(hashes[i] ^ hashes)
        for v in range(4):
            if v != owners[i] and ((owners == v) & (d <= 4)).any():
                expected[owners[i], v] += 1
    assert (counts == expected).all()
    assert counts[0, 3] > 0 and counts[3, 0] > 0


@pytest.mark.skipif(not faiss_available(), reason="faiss (faiss-cpu) is not installed")
@pytest.mark.parametrize("max_distance", [0, 4, 12, 20])
def test_the_faiss_search_finds_what_numpy_finds(max_distance):
    hashes, owners = planted_hashes(n=2000, videos=7)
    # near neighbours at every distance up to the radius and one past it
    hashes[1000:1021] = hashes[:21] ^ ((np.uint64(1) << np.arange(21, dtype=np.uint64)) - 1)
    with_numpy = matched_counts(hashes, owners, max_distance, block=333)
    with_faiss = matched_counts(hashes, owners, max_distance, block=333, backend="faiss")
    pd.testing.assert_frame_equal(with_numpy, with_faiss)
    assert len(with_numpy) > 0


def test_the_search_backend_is_resolved_or_refused(monkeypatch):
    assert search_backend("numpy") == "numpy"
    assert search_backend("auto") == ("faiss" if faiss_available() else "numpy")
    with pytest.raises(ValueError, match=r"duplicates\.search"):
        search_backend("annoy")
    monkeypatch.setattr("mosaicflow.curate.duplicates.faiss_available", lambda: False)
    assert search_backend("auto") == "numpy"
    with pytest.raises(ValueError, match="faiss is not installed"):
        search_backend("faiss")


def merit(**pixels: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pixels": pixels,
            "bits_per_pixel": dict.fromkeys(pixels, 1.0),
            "frames": dict.fromkeys(pixels, 10),
        }
    )


def pair_table(*rows: tuple) -> pd.DataFrame:
    cols = ["video_a", "video_b", "frames_a", "frames_b", "overlap_a", "overlap_b"]
    return pd.DataFrame([(a, b, 0, 0, oa, ob) for a, b, oa, ob in rows], columns=cols)


def test_a_compilation_is_grouped_but_only_a_contained_worse_copy_is_dropped():
    # "part" is fully inside the compilation "comp"; the compilation holds more than "part"
    pairs = pair_table(("comp", "part", 0.4, 0.97))
    worse_part = group_videos(["comp", "part"], pairs, merit(comp=100, part=50), 0.9)
    assert worse_part.set_index("video")["kept"].to_dict() == {"comp": True, "part": False}
    better_part = group_videos(["comp", "part"], pairs, merit(comp=50, part=100), 0.9)
    table = better_part.set_index("video")
    assert table["kept"].to_dict() == {"comp": True, "part": True}
    assert table.loc["comp", "group"] == table.loc["part", "group"] == "part"


def test_pairs_chain_into_one_group():
    pairs = pair_table(("a", "b", 0.6, 0.6), ("b", "c", 0.6, 0.6))
    table = group_videos(["a", "b", "c", "d"], pairs, merit(a=1, b=1, c=1, d=1), 0.9)
    groups = table.set_index("video")["group"].to_dict()
    assert groups["a"] == groups["b"] == groups["c"] != groups["d"]
    assert table["kept"].all()


def test_a_group_takes_the_most_held_out_split_of_its_members():
    split_of = {"a": "train", "b": "test", "c": "val", "d": "train", "e": "val"}
    group_of = {"a": "g1", "b": "g1", "c": "g2", "d": "g2"}
    assert unify_group_splits(split_of, group_of) == {
        "a": "test",
        "b": "test",
        "c": "val",
        "d": "val",
        "e": "val",
    }


def test_restoration_splits_keep_groups_together():
    counts = {f"v{k}": 5 for k in range(8)}
    groups = {"v0": "g", "v1": "g", "v2": "g", "v3": "h", "v4": "h"}
    split = SplitConfig(val=0.25, test=0.25)
    for seed in range(5):
        splits = assign_splits(counts, split, seed=seed, groups=groups)
        assert splits["v0"] == splits["v1"] == splits["v2"]
        assert splits["v3"] == splits["v4"]
    with_role = assign_splits(
        counts, split, seed=0, roles={"v5": "test"}, groups={"v5": "x", "v6": "x"}
    )
    assert with_role["v6"] == "test"


def test_detection_splits_keep_groups_together():
    samples = [{"video": f"v{k}", "positive": j % 2 == 0} for k in range(8) for j in range(4)]
    groups = {"v0": "g", "v1": "g", "v2": "g"}
    out = split_samples(samples, DetectionSplitConfig(val=0.25, test=0.25), roles=None, seed=1,
                        groups=groups)  # fmt: skip
    split_of = {s["video"]: name for name, members in out.items() for s in members}
    assert split_of["v0"] == split_of["v1"] == split_of["v2"]
    assert sum(len(m) for m in out.values()) == len(samples)


def test_copies_without_a_role_follow_their_groups_pinned_split():
    pinned = {"a": "train", "b": "test", "c": "train", "d": "val"}
    group_of = {"x": "a", "a": "a", "y": "b", "z": "cd", "c": "cd", "d": "cd"}
    split_of, free = follow_pinned_groups(pinned, ["x", "y", "z", "w"], group_of)
    # a copy of a train video trains, a copy of a test video is tested; a group with pinned
    # members in two splits takes the most held out; a lone video is left to the fractions
    assert split_of == {"a": "train", "b": "test", "c": "val", "d": "val", "x": "train",
                        "y": "test", "z": "val"}  # fmt: skip
    assert free == ["w"]


@pytest.mark.parametrize("seed", range(6))
def test_a_drawn_split_never_moves_a_pinned_video(seed):
    # the copies would be drawn into val or test by the fractions on their own; their group's
    # pinned train video keeps them in train
    counts = {"t0": 5, "t1": 5, "copy0": 5, "copy1": 5, "free0": 5, "free1": 5, "free2": 5}
    roles = {"t0": "train", "t1": "train"}
    groups = {"copy0": "t0", "t0": "t0", "copy1": "t1", "t1": "t1"}
    splits = assign_splits(counts, SplitConfig(val=0.3, test=0.3), seed=seed, roles=roles,
                           groups=groups)  # fmt: skip
    assert splits["t0"] == splits["copy0"] == splits["t1"] == splits["copy1"] == "train"
    samples = [{"video": v, "positive": j % 2 == 0} for v in counts for j in range(4)]
    out = split_samples(samples, DetectionSplitConfig(val=0.3, test=0.3), roles=roles,
                        seed=seed, groups=groups)  # fmt: skip
    split_of = {s["video"]: name for name, members in out.items() for s in members}
    assert {split_of[v] for v in ("t0", "t1", "copy0", "copy1")} == {"train"}


def test_duplicate_videos_leave_the_clip_index(tmp_path):
    from tests.unit.curate.conftest import VIDEO_IDS, build_dataset

    data = build_dataset(tmp_path)
    index = drop_duplicates(data.index, {VIDEO_IDS[1]: VIDEO_IDS[0]})
    second = index[index["video"] == VIDEO_IDS[1]]
    was_kept = data.index[data.index["video"] == VIDEO_IDS[1]]["kept"].to_numpy()
    assert was_kept.any()
    assert not second["kept"].any()
    assert (second.loc[was_kept, "reason"] == DUPLICATE_REASON).all()
    first = index[index["video"] == VIDEO_IDS[0]]
    pd.testing.assert_frame_equal(first, data.index[data.index["video"] == VIDEO_IDS[0]])


@pytest.mark.parametrize("missing", ["group", "kept"])
def test_a_table_that_is_not_a_groups_table_is_refused(tmp_path, missing):
    table = pd.DataFrame({"video": ["a"], "group": ["a"], "kept": [True], "duplicate_of": [""],
                          "overlap": [0.0], "reason": [""]}).drop(columns=[missing])  # fmt: skip
    path = tmp_path / "other.parquet"
    write_parquet(path, table)
    with pytest.raises(ValueError, match=r"other\.parquet"):
        read_groups(path)
