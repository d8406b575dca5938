"""The frames stage: index, probe, sampling, scenes, rejections, CLI, config contract."""

from __future__ import annotations

import json
import logging
from fractions import Fraction

import av
import numpy as np
import pandas as pd
import pytest

from mosaicflow.cli import main
from mosaicflow.config import contract_mismatches, load_schema, schema_section
from mosaicflow.video.cli import frames_config
from mosaicflow.video.config import FramesConfig
from mosaicflow.video.decode import VideoDecodeError, iter_frames, iter_planes
from mosaicflow.video.frames import (
    INDEX_COLUMNS,
    FramesResult,
    Rejection,
    extract_frames,
    extract_frames_or_reject,
    mpdecimate_params,
    rejected_table,
    sample_reasons,
    write_rejected_table,
)
from mosaicflow.video.mpdecimate import Mpdecimate, MpdecimateParams
from mosaicflow.video.scenes import SceneDetector

from .clips import scripted_frames, write_video


def test_config_matches_schema():
    section = schema_section(load_schema(), "frames")
    assert contract_mismatches(FramesConfig, section) == []
    cfg = frames_config()
    assert mpdecimate_params(cfg.mpdecimate) == MpdecimateParams.preset("default")
    anime = frames_config({"mpdecimate": {"preset": "anime"}})
    assert mpdecimate_params(anime.mpdecimate).hi == 64 * 200
    custom = frames_config({"mpdecimate": {"preset": None, "hi": 100, "lo": 10, "frac": 0.5}})
    assert mpdecimate_params(custom.mpdecimate) == MpdecimateParams(hi=100, lo=10, frac=0.5)


def test_extract_frames_writes_index_and_probe(tmp_path):
    video = write_video(tmp_path / "clip.mp4", scripted_frames(2, 96, 160))
    cfg = frames_config()
    result = extract_frames(cfg, video, tmp_path / "o" / "index.parquet", tmp_path / "o" / "p.json")
    assert isinstance(result, FramesResult)
    index = pd.read_parquet(result.index)
    assert tuple(index.columns) == INDEX_COLUMNS
    assert index["frame"].tolist() == list(range(48))
    assert index["kept"].tolist() == (~index["duplicate"]).tolist()
    assert set(index["drop_reason"]) == {"", "duplicate"}
    # every frame that is not a duplicate carries its signature, duplicates none
    assert index["phash"].notna().tolist() == (~index["duplicate"]).tolist()
    assert index["luma_std"].notna().tolist() == (~index["duplicate"]).tolist()
    # the reference is the last kept frame, as in FFmpeg
    dec = Mpdecimate(MpdecimateParams())
    assert index["kept"].tolist() == [dec.push(f.planes, f.frame) for f in iter_planes(video)]
    # the clip cuts to a new texture at frame 30: a new scene starts there
    assert index["scene"].is_monotonic_increasing
    assert index.loc[30, "scene"] == index.loc[29, "scene"] + 1
    assert index.loc[30, "scene_score"] >= cfg.scene_threshold
    probe = json.loads(result.probe.read_text())
    assert probe["version"] == 1 and probe["rejected"] is False
    assert probe["decoded_frames"] == 48 == result.frames
    assert probe["counts"]["kept"] == result.kept == int(index["kept"].sum())
    assert probe["width"] == 160 and probe["height"] == 96 and probe["codec"] == "h264"
    assert probe["path"] == "clip.mp4"
    # later stages decode the kept frames again from the index
    kept = index.loc[index["kept"], "frame"].tolist()
    assert [n for n, _ in iter_frames(video, kept)] == kept
    # deterministic bytes
    again = extract_frames(cfg, video, tmp_path / "again.parquet", tmp_path / "again.json")
    assert again.index.read_bytes() == result.index.read_bytes()
    assert again.probe.read_bytes() == result.probe.read_bytes()


def test_extract_frames_logs_its_progress(tmp_path, caplog):
    video = write_video(tmp_path / "clip.mp4", scripted_frames(2, 96, 160))
    with caplog.at_level(logging.INFO, logger="mosaicflow.video.frames"):
        extract_frames(frames_config(), video, tmp_path / "index.parquet", tmp_path / "p.json")
    lines = [r.getMessage() for r in caplog.records if ": decode: " in r.getMessage()]
    # the closing line: every frame decoded of those the container announces, the scenes so far
    assert len(lines) == 1 and lines[0].startswith("clip.mp4: decode: 48/48 frames ("), lines
    assert lines[0].endswith("; 2 scenes"), lines


def test_scene_scores_match_ffmpeg_scdet(tmp_path):
    video = write_video(tmp_path / "clip.mp4", scripted_frames(4, 96, 160))
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        src = graph.add_buffer(template=stream)
        scdet = graph.add("scdet", "threshold=10")
        sink = graph.add("buffersink")
        src.link_to(scdet)
        scdet.link_to(sink)
        graph.configure()
        ref = []
        for frame in container.decode(stream):
            graph.push(frame)
            ref.append(float(graph.pull().metadata["lavfi.scd.score"]))
    det = SceneDetector(10.0)
    ours = [det.push(f.planes[0], f.frame)[0] for f in iter_planes(video)]
    np.testing.assert_allclose(ours, ref, atol=6e-4)
    assert det.scene == sum(s >= 10.0 for s in ref) >= 1


def _cfg(**kw):
    return frames_config(kw)


def test_sampling_reasons():
    time = np.arange(20) / 10.0  # 2 s at 10 fps
    dup = np.zeros(20, bool)
    dup[[3, 4, 10]] = True
    reasons = sample_reasons(time, dup, 2.0, _cfg(skip_start_s=0.2, skip_end_s=0.3))
    assert reasons[:2].tolist() == ["skip_start"] * 2
    assert reasons[17:].tolist() == ["skip_end"] * 3
    assert reasons[3] == reasons[4] == reasons[10] == "duplicate"
    assert (reasons == "").sum() == 20 - 2 - 3 - 3
    r = sample_reasons(time, dup, 2.0, _cfg(every_n=3))
    kept = np.flatnonzero(r == "")
    candidates = np.flatnonzero(~dup)
    assert kept.tolist() == candidates[::3].tolist()
    assert set(r[np.isin(np.arange(20), candidates) & (r != "")]) == {"sampling"}
    r = sample_reasons(time, dup, 2.0, _cfg(max_frames=4))
    kept = np.flatnonzero(r == "")
    assert len(kept) == 4 and kept[0] == 0 and kept[-1] == 19
    assert (r == "max_frames").sum() == 17 - 4
    r = sample_reasons(time, dup, 2.0, _cfg(max_frames=100))
    assert (r == "").sum() == 17


def test_extract_with_sampling(tmp_path):
    video = write_video(tmp_path / "clip.mkv", scripted_frames(2, 64, 96), codec="ffv1")
    cfg = frames_config({"skip_start_s": 0.2, "every_n": 2, "max_frames": 5})
    result = extract_frames(cfg, video, tmp_path / "i.parquet", tmp_path / "p.json")
    index = pd.read_parquet(result.index)
    assert index["kept"].sum() == 5 == result.kept
    assert set(index.loc[index["time"] < 0.2, "drop_reason"]) == {"skip_start"}
    assert {"sampling", "max_frames", "duplicate"} <= set(index["drop_reason"])


def test_reject_or_fail(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    cfg = frames_config()
    with pytest.raises(VideoDecodeError, match=r"broken\.mp4"):
        extract_frames_or_reject(
            cfg, bad, tmp_path / "f" / "i.parquet", tmp_path / "f" / "p.json", "fail"
        )
    assert not (tmp_path / "f" / "i.parquet").exists()
    out = extract_frames_or_reject(
        cfg,
        bad,
        tmp_path / "s" / "i.parquet",
        tmp_path / "s" / "p.json",
        "skip",
        video_id="broken-1",
    )
    assert isinstance(out, Rejection) and "broken.mp4" in out.reason
    empty = pd.read_parquet(out.index)
    assert len(empty) == 0 and tuple(empty.columns) == INDEX_COLUMNS
    probe = json.loads(out.probe.read_text())
    assert probe["rejected"] is True and probe["video"] == "broken-1"
    good = write_video(tmp_path / "good.mp4", scripted_frames(0, 64, 96, n=8))
    ok = extract_frames_or_reject(
        cfg, good, tmp_path / "g" / "i.parquet", tmp_path / "g" / "p.json", "skip"
    )
    assert isinstance(ok, FramesResult)
    table_path = tmp_path / "rejected.tsv"
    probes = [tmp_path / "g" / "p.json", tmp_path / "s" / "p.json"]
    assert write_rejected_table(probes, table_path) == 1
    table = pd.read_csv(table_path, sep="\t")
    assert table["video"].tolist() == ["broken-1"]
    assert "broken.mp4" in table.loc[0, "reason"]
    assert write_rejected_table(probes[:1], table_path) == 0
    assert table_path.read_text() == "video\tpath\treason\n"
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(ValueError, match=r"junk\.json"):
        rejected_table([tmp_path / "junk.json"])
    with pytest.raises(ValueError, match="on_error"):
        extract_frames_or_reject(cfg, good, tmp_path / "x.parquet", tmp_path / "x.json", "ignore")


def test_cli(tmp_path, capsys):
    video = write_video(tmp_path / "clip.mp4", scripted_frames(2, 64, 96, n=16))
    out = tmp_path / "out"
    assert (
        main(["frames", str(video), "--output", str(out), "--preset", "anime", "--every-n", "2"])
        == 0
    )
    assert "16 frames" in capsys.readouterr().out
    probe = json.loads((out / "probe.json").read_text())
    assert probe["mpdecimate"]["hi"] == 64 * 200
    assert len(pd.read_parquet(out / "index.parquet")) == 16
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    assert main(["frames", str(bad), "-o", str(tmp_path / "bad")]) == 2
    assert "bad.mp4" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("overrides", "option"),
    [
        ({"max_frames": 0}, "--max-frames"),
        ({"every_n": 0}, "--every-n"),
        ({"skip_start_s": -5.0}, "--skip-start-s"),
        ({"scene_threshold": 500.0}, "--scene-threshold"),
    ],
)
def test_frames_options_keep_the_config_keys_limits(overrides, option):
    from mosaicflow.config import ConfigError

    with pytest.raises(ConfigError, match=rf"{option} \(frames\.\w+\): "):
        frames_config(overrides)


def test_interlaced_and_anamorphic_sources_are_recorded_and_named(tmp_path, caplog):
    from .test_file_identity import write_picture

    cases = {
        "broadcast.mkv": write_picture(tmp_path / "broadcast.mkv", fields="tff"),
        "dvd.mkv": write_picture(tmp_path / "dvd.mkv", aspect=Fraction(32, 27)),
        "plain.mkv": write_picture(tmp_path / "plain.mkv"),
    }
    probes = {}
    for name, video in cases.items():
        with caplog.at_level(logging.WARNING, logger="mosaicflow.video.frames"):
            result = extract_frames(frames_config(), video, tmp_path / "out" / name / "i.parquet",
                                    tmp_path / "out" / name / "p.json")  # fmt: skip
        probes[name] = json.loads(result.probe.read_text())
    assert {n: (p["interlaced"], p["pixel_aspect"]) for n, p in probes.items()} == {
        "broadcast.mkv": (True, "1:1"), "dvd.mkv": (False, "32:27"), "plain.mkv": (False, "1:1")
    }  # fmt: skip
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2, warned
    assert "broadcast.mkv: interlaced: its frames are used as decoded" in warned[0]
    assert "dvd.mkv: pixels of aspect 32:27" in warned[1]
