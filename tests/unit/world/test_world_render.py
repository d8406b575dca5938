"""Rendering: determinism, content minimums, truth readers."""

from __future__ import annotations

import hashlib
import json
import math

import av
import numpy as np
import pytest

from mosaicflow.formats.truth import TRUTH_VERSION, load_truth_json, read_truth
from mosaicflow.world import video_specs

from .conftest import render, small_config


def _truth(paths):
    return load_truth_json(paths[2])


def test_same_seed_gives_identical_bytes(small_world, tmp_path):
    spec = video_specs(small_config(), seed=7)[0]
    again = render(spec, tmp_path)
    for first, second in zip(small_world[spec.name], again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name  # mp4 too (x264, 1 thread)


def test_renders_in_one_process_give_one_bitstream(tmp_path):
    # with libx264's mbtree on, 30 renders of one spec gave up to 4 different mp4s in a process
    for spec in video_specs(small_config(), seed=7):
        digests = {hashlib.sha1(render(spec, tmp_path)[0].read_bytes()).digest() for _ in range(20)}
        assert len(digests) == 1, spec.name


def test_other_seed_gives_other_world(small_world, tmp_path):
    spec = video_specs(small_config(), seed=8)[0]
    other = render(spec, tmp_path)
    assert other[2].read_bytes() != small_world[spec.name][2].read_bytes()


def test_truth_matches_video_and_json(small_world):
    for name, paths in small_world.items():
        truth = _truth(paths)
        assert truth["version"] == TRUTH_VERSION and truth["name"] == name
        assert truth["classes"] == ["text", "logo"]
        masks = list(read_truth(paths[1]))
        assert [f for f, _ in masks] == list(range(truth["frames"]))
        with av.open(str(paths[0])) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert (stream.width, stream.height) == (truth["width"], truth["height"])
            assert sum(1 for _ in container.decode(video=0)) == truth["frames"]
        for (index, mask), entry in zip(masks, truth["per_frame"], strict=True):
            assert mask.shape == (truth["height"], truth["width"]) and mask.dtype == np.uint8
            assert sorted(int(v) for v in np.unique(mask) if v) == entry["instances"], index


def test_content_minimums(small_world):
    for paths in small_world.values():
        truth = _truth(paths)
        n = truth["frames"]
        frames = truth["per_frame"]
        spec = truth["spec"]
        assert sum(not f["instances"] for f in frames) >= math.ceil(spec["empty_fraction"] * n)
        scenes = truth["scenes"]
        assert len(scenes) >= 2  # hard cuts
        assert sum(s["watermarked"] for s in scenes) >= 0.3 * len(scenes)
        assert any(f["static"] for f in frames)
        assert truth["stats"]["mean_motion_px"] >= 0.5
        for index, mask in read_truth(paths[1]):
            coverage = np.count_nonzero(mask) / mask.size
            if frames[index]["instances"]:
                assert 0.01 <= coverage <= 0.25, (paths[1], index, coverage)
        for box in (b for f in frames for b in f["watermarks"]):
            x0, y0, x1, y1 = box["box"]
            assert 0 <= x0 < x1 <= truth["width"] and 0 <= y0 < y1 <= truth["height"]
            assert truth["classes"][box["class_id"]] == box["class"]


def test_static_frames_repeat_their_predecessor(small_world):
    paths = small_world["world-train-00"]
    frames = _truth(paths)["per_frame"]
    masks = dict(read_truth(paths[1]))
    static = [f["frame"] for f in frames if f["static"]]
    assert static
    for index in static:
        assert np.array_equal(masks[index], masks[index - 1])
        assert frames[index]["watermarks"] == frames[index - 1]["watermarks"]
    with av.open(str(paths[0])) as container:
        images = [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]
    moving = [
        i
        for i in range(1, len(images))
        if not frames[i]["static"] and frames[i]["scene"] == frames[i - 1]["scene"]
    ]
    still = np.mean([np.abs(images[i] - images[i - 1]).mean() for i in static])
    changing = np.mean([np.abs(images[i] - images[i - 1]).mean() for i in moving])
    assert still < 0.25 * changing


def test_one_video_has_audio(small_world):
    tracks = {}
    for name, paths in small_world.items():
        with av.open(str(paths[0])) as container:
            tracks[name] = [s.type for s in container.streams]
        assert _truth(paths)["audio"] == ("audio" in tracks[name])
    assert tracks["world-test-00"] == ["video", "audio"]
    assert tracks["world-train-00"] == ["video"]


def test_read_truth_subset(small_world):
    paths = small_world["world-val-00"]
    everything = dict(read_truth(paths[1]))
    subset = list(read_truth(paths[1], [5, 2, 9]))
    assert [f for f, _ in subset] == [2, 5, 9]
    for index, mask in subset:
        assert np.array_equal(mask, everything[index])
    assert list(read_truth(paths[1], [])) == []


def test_truth_readers_name_bad_files(small_world, tmp_path):
    truth = _truth(small_world["world-val-00"])
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({**truth, "version": 0}))
    with pytest.raises(ValueError, match=r"old\.json.*version"):
        load_truth_json(bad)
    short = tmp_path / "short.json"
    short.write_text(json.dumps({**truth, "per_frame": truth["per_frame"][:3]}))
    with pytest.raises(ValueError, match=r"short\.json"):
        load_truth_json(short)
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(b"not a video")
    with pytest.raises(ValueError, match=r"broken\.mkv"):
        list(read_truth(broken))


def test_default_size_video_meets_minimums(tmp_path):
    from mosaicflow.config import build, validate_config
    from mosaicflow.world import WorldConfig

    config = {"world": {}}
    validate_config(config)
    spec = video_specs(build(WorldConfig, config["world"]), seed=20261121)[0]
    paths = render(spec, tmp_path)
    stats = _truth(paths)["stats"]
    assert stats["frames"] >= 120
    assert stats["empty_frames"] >= 0.2 * stats["frames"]
    assert 0.01 <= stats["coverage_min"] <= stats["coverage_max"] <= 0.25
    assert stats["mean_motion_px"] >= 0.5 and stats["static_frames"] > 0
    assert stats["watermark_scenes"] >= 0.3 * stats["scenes"] and stats["scenes"] >= 3
