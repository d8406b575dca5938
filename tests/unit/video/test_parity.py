"""Parity: our kept frames equal ``ffmpeg -vf mpdecimate`` (Debian's ffmpeg) exactly."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mosaicflow.video.cli import frames_config
from mosaicflow.video.decode import iter_planes
from mosaicflow.video.frames import extract_frames
from mosaicflow.video.mpdecimate import Mpdecimate, MpdecimateParams

from .clips import NEEDS_FFMPEG, ffmpeg_keep_flags, scripted_frames, write_video

pytestmark = [pytest.mark.ffmpeg, NEEDS_FFMPEG]

#: (file name, write_video kwargs, (h, w)): the video kinds users have.
CLIPS = [
    ("h264.mp4", {}, (96, 160)),
    ("odd.mkv", {"codec": "ffv1", "pix_fmt": "yuv420p"}, (179, 321)),
    ("yuv422.mkv", {"codec": "ffv1", "pix_fmt": "yuv422p"}, (96, 160)),
    ("yuv444.mp4", {"codec": "libx264", "pix_fmt": "yuv444p"}, (96, 160)),
    ("yuv420p10.mkv", {"codec": "ffv1", "pix_fmt": "yuv420p10le"}, (96, 160)),
    ("mpeg4.avi", {"codec": "mpeg4", "pix_fmt": "yuv420p"}, (96, 160)),
    ("msmpeg4v2.avi", {"codec": "msmpeg4v2", "pix_fmt": "yuv420p"}, (96, 160)),
    ("cinepak.avi", {"codec": "cinepak", "pix_fmt": "rgb24"}, (96, 160)),
    ("rotated.mp4", {"rotation": 90}, (96, 160)),
]


def _ours(path: Path, params: MpdecimateParams) -> list[bool]:
    dec = Mpdecimate(params)
    return [dec.push(f.planes, owner=f.frame) for f in iter_planes(path)]


@pytest.mark.parametrize("preset", ["default", "anime"])
@pytest.mark.parametrize(("name", "kw", "size"), CLIPS, ids=[c[0] for c in CLIPS])
def test_kept_frames_equal_ffmpeg(tmp_path, preset, name, kw, size):
    path = write_video(tmp_path / name, scripted_frames(3, *size), **kw)
    params = MpdecimateParams.preset(preset)
    ref = ffmpeg_keep_flags(path, params.ffmpeg_filter())
    ours = _ours(path, params)
    assert len(ref) == len(ours) == 48
    assert 1 < sum(ref) < 48  # the clip exercises both keeps and drops
    assert np.flatnonzero(ours).tolist() == np.flatnonzero(ref).tolist()


@pytest.mark.parametrize("max_drop", [3, 1, -1, -3])
def test_max_equals_ffmpeg(tmp_path, max_drop):
    path = write_video(tmp_path / "m.mp4", scripted_frames(5, 96, 160))
    params = MpdecimateParams(max=max_drop)
    assert _ours(path, params) == ffmpeg_keep_flags(path, params.ffmpeg_filter())


def test_explicit_thresholds_equal_ffmpeg(tmp_path):
    path = write_video(tmp_path / "t.mkv", scripted_frames(6, 120, 200), codec="ffv1")
    for params in [MpdecimateParams(hi=200, lo=64, frac=0.1), MpdecimateParams(hi=3000, lo=900)]:
        assert _ours(path, params) == ffmpeg_keep_flags(path, params.ffmpeg_filter())


def test_vfr_and_index_duplicates_equal_ffmpeg(tmp_path):
    rng = np.random.default_rng(1)
    steps = rng.integers(1, 6, 47)
    pts = [0, *np.cumsum(steps).tolist()]
    path = write_video(
        tmp_path / "vfr.mkv",
        scripted_frames(7, 96, 160),
        codec="ffv1",
        pts=pts,
        time_base=Fraction(1, 100),
    )
    for preset in ("default", "anime"):
        cfg = frames_config({"mpdecimate": {"preset": preset}})
        extract_frames(cfg, path, tmp_path / preset / "index.parquet", tmp_path / preset / "p.json")
        index = pd.read_parquet(tmp_path / preset / "index.parquet")
        ref = ffmpeg_keep_flags(path, MpdecimateParams.preset(preset).ffmpeg_filter())
        assert (~index["duplicate"]).tolist() == ref
        assert index["kept"].tolist() == ref  # no sampling configured
        # the muxer rescales pts to its own time base; times stay those we wrote
        np.testing.assert_allclose(index["time"], np.asarray(pts) / 100, atol=1e-3)


def test_demo_world_videos_equal_ffmpeg(tmp_path):
    """The demo world's videos (schema defaults, demo profile), both presets."""
    from mosaicflow import world
    from mosaicflow.config import build, validate_config

    config: dict = {}
    validate_config(config)
    specs = world.video_specs(build(world.WorldConfig, config["world"]), config["seed"])
    for spec in specs[:3]:
        video = tmp_path / f"{spec.name}.mp4"
        world.render_video(
            spec, video, tmp_path / f"{spec.name}.mkv", tmp_path / f"{spec.name}.json"
        )
        for preset in ("default", "anime"):
            params = MpdecimateParams.preset(preset)
            ref = ffmpeg_keep_flags(video, params.ffmpeg_filter())
            assert len(ref) == spec.seconds * spec.fps
            assert _ours(video, params) == ref, (spec.name, preset)
