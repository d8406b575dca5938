"""Probing and decoding of the video kinds real users have."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from mosaicflow.video.decode import (
    DecodeStats,
    VideoDecodeError,
    iter_frames,
    iter_planes,
    probe_video,
)

from .clips import FFMPEG, NEEDS_FFMPEG, scripted_frames, write_video


@pytest.mark.parametrize(
    ("name", "kw", "size", "dedup_fmt", "chroma"),
    [
        ("odd.mkv", {"codec": "ffv1", "pix_fmt": "yuv420p"}, (179, 321), "yuv420p", (90, 161)),
        ("422.mkv", {"codec": "ffv1", "pix_fmt": "yuv422p"}, (96, 160), "yuv422p", (96, 80)),
        ("444.mp4", {"pix_fmt": "yuv444p"}, (96, 160), "yuv444p", (96, 160)),
        ("10bit.mkv", {"codec": "ffv1", "pix_fmt": "yuv420p10le"}, (96, 160), "yuv420p", (48, 80)),
        ("mpeg4.avi", {"codec": "mpeg4"}, (96, 160), "yuv420p", (48, 80)),
        ("msmpeg4.avi", {"codec": "msmpeg4v2"}, (96, 160), "yuv420p", (48, 80)),
        ("cinepak.avi", {"codec": "cinepak", "pix_fmt": "rgb24"}, (96, 160), "gbrp", (96, 160)),
    ],
)
def test_planes_of_every_kind(tmp_path, name, kw, size, dedup_fmt, chroma):
    path = write_video(tmp_path / name, scripted_frames(0, *size, n=12), **kw)
    probe = probe_video(path)
    assert (probe.height, probe.width) == size
    assert probe.fps == pytest.approx(25.0)
    frames = list(iter_planes(path))
    assert [f.number for f in frames] == list(range(12))
    assert all(f.pix_fmt == dedup_fmt for f in frames)
    planes = frames[3].planes
    assert planes[0].shape == size and planes[0].dtype == np.uint8
    assert planes[1].shape == chroma == planes[2].shape
    times = [f.time for f in frames]
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    rgb = dict(iter_frames(path, [0, 11]))
    assert rgb[11].shape == (*size, 3)


def test_probe_fields(tmp_path):
    path = write_video(tmp_path / "a.mp4", scripted_frames(0, 96, 160, n=20))
    probe = probe_video(path)
    assert probe.codec == "h264" and probe.pix_fmt == "yuv420p"
    assert probe.frame_count == 20 and probe.rotation == 0
    assert probe.duration == pytest.approx(0.8, abs=0.05)
    assert probe.has_audio is False
    assert set(probe.to_dict()) >= {"fps", "width", "height", "duration", "codec", "rotation"}


def test_rotation_is_applied(tmp_path):
    frames = scripted_frames(0, 96, 160, n=6)
    plain = write_video(tmp_path / "plain.mp4", frames)
    turned = write_video(tmp_path / "turned.mp4", frames, rotation=90)
    probe = probe_video(turned)
    assert probe.rotation == 270  # a display matrix of +90 deg (counter-clockwise)
    assert (probe.display_height, probe.display_width) == (160, 96)
    (_, a), (_, b) = next(iter_frames(plain, [2])), next(iter_frames(turned, [2]))
    assert b.shape == (160, 96, 3)
    np.testing.assert_array_equal(b, np.rot90(a, k=1))
    planes = next(iter_planes(turned)).planes
    assert planes[0].shape == (160, 96) and planes[1].shape == (80, 48)


@NEEDS_FFMPEG
@pytest.mark.ffmpeg
def test_rotation_matches_ffmpeg_autorotate(tmp_path):
    turned = write_video(tmp_path / "turned.mp4", scripted_frames(0, 96, 160, n=4), rotation=90)
    raw = subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-i",
            str(turned),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    ref = np.frombuffer(raw, np.uint8).reshape(160, 96, 3).astype(int)
    ours = next(iter_frames(turned, [0]))[1].astype(int)
    assert np.abs(ours - ref).mean() < 3  # same orientation (RGB conversion may round apart)
    assert np.abs(np.rot90(ours, 2) - ref).mean() > 10


def test_iter_frames_selection(tmp_path):
    path = write_video(tmp_path / "a.mkv", scripted_frames(1, 64, 96, n=16), codec="ffv1")
    got = list(iter_frames(path, [9, 2, 9, 15]))
    assert [n for n, _ in got] == [2, 9, 15]
    assert got[0][1].shape == (64, 96, 3) and got[0][1].dtype == np.uint8
    every = list(iter_frames(path, None, fmt="gray"))
    assert len(every) == 16 and every[0][1].shape == (64, 96)
    np.testing.assert_array_equal(every[9][1], next(iter_frames(path, [9], fmt="gray"))[1])
    assert list(iter_frames(path, [])) == []
    with pytest.raises(VideoDecodeError, match=r"a\.mkv.*frame 99"):
        list(iter_frames(path, [3, 99]))


def test_missing_timestamps_get_monotonic_times(tmp_path):
    path = tmp_path / "raw.h264"
    with av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for img in scripted_frames(0, 96, 160, n=10):
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    frames = list(iter_planes(path))
    assert len(frames) == 10
    assert all(f.pts is None for f in frames)
    np.testing.assert_allclose([f.time for f in frames], np.arange(10) / 25)


def test_broken_files_fail_naming_the_file(tmp_path):
    with pytest.raises(VideoDecodeError, match=r"nothing\.mp4"):
        probe_video(tmp_path / "nothing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoDecodeError, match=r"notes\.mp4"):
        probe_video(text)
    with pytest.raises(VideoDecodeError, match=r"notes\.mp4"):
        list(iter_planes(text))
    audio_only = tmp_path / "audio.wav"
    with av.open(str(audio_only), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
    with pytest.raises(VideoDecodeError, match="no video stream"):
        probe_video(audio_only)


def _with_packets_replaced(src: Path, dst: Path, replaced: set[int]) -> None:
    """Copy ``src`` packet for packet, with the payload of the packets ``replaced`` (by index)
    overwritten by random bytes of the same length."""
    rng = np.random.default_rng(0)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for i, packet in enumerate(p for p in inp.demux(stream) if p.size):
            if i in replaced:
                data = bytes(packet)
                noise = rng.integers(0, 256, len(data) - 8, dtype=np.uint8).tobytes()
                broken = av.Packet(data[:8] + noise)
                broken.pts, broken.dts, broken.time_base = packet.pts, packet.dts, packet.time_base
                broken.is_keyframe = packet.is_keyframe
                packet = broken
            packet.stream = copy
            out.mux(packet)


def test_truncated_and_corrupt_files_decode_what_they_can(tmp_path):
    # FFV1 with slice checksums: a damaged packet is refused by the decoder, not concealed
    frames_in = scripted_frames(0, 96, 160, n=24)
    path = write_video(tmp_path / "a.mkv", frames_in, codec="ffv1", options={"slicecrc": "1"})
    data = path.read_bytes()
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(data[: len(data) // 2])
    stats = DecodeStats()
    frames = list(iter_planes(truncated, stats=stats))
    assert 0 < len(frames) < 24
    assert [f.number for f in frames] == list(range(len(frames)))
    # the frames before the cut are the whole file's, bit for bit
    whole = {f.number: f.planes for f in iter_planes(path)}
    for f in frames:
        assert all(np.array_equal(a, b) for a, b in zip(f.planes, whole[f.number], strict=True))
    bad = tmp_path / "corrupt.mkv"
    _with_packets_replaced(path, bad, {5, 6, 7})
    stats = DecodeStats()
    frames = list(iter_planes(bad, stats=stats))
    # the three damaged packets are counted and skipped, the other 21 frames decoded
    assert stats.errors == 3 and "Invalid data" in stats.last_error, stats
    assert len(frames) == 21
    assert [f.number for f in frames] == list(range(len(frames)))
    clean = DecodeStats()
    assert len(list(iter_planes(path, stats=clean))) == 24 and clean.errors == 0


def test_a_zero_byte_video_is_refused_naming_it(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for read in (probe_video, lambda path: list(iter_frames(path, None))):
        with pytest.raises(VideoDecodeError, match=r"empty\.mp4: an empty file \(0 bytes\)"):
            read(empty)


def test_a_picture_size_change_mid_stream_keeps_the_first_size_everywhere(tmp_path, caplog):
    """A joined recording whose second part is smaller: every reader gives the first part's
    size (the second part scaled, as ffmpeg does), so the frames index, the region table and
    the clips agree on one frame size."""
    from mosaicflow.datasets.clips.media import source_frames

    first = write_video(tmp_path / "a.ts", scripted_frames(1, 96, 160, n=10))
    second = write_video(tmp_path / "b.ts", scripted_frames(2, 48, 80, n=10))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    with caplog.at_level("WARNING"):
        planes = [(f.number, f.planes[0].shape) for f in iter_planes(joined)]
        frames = [(n, a.shape) for n, a in iter_frames(joined)]
        chosen = [(n, a.shape) for n, a in source_frames(joined, {3: None, 14: None}, 0)]
    assert planes == [(n, (96, 160)) for n in range(20)]
    assert frames == [(n, (96, 160, 3)) for n in range(20)]
    assert chosen == [(3, (96, 160, 3)), (14, (96, 160, 3))]
    change = "joined.ts: the picture changes to 80x48 at frame 10"
    assert caplog.text.count(change) == 3  # once per reader
    # the scaled frames are the second part's pictures, not the first's
    small = dict(iter_frames(second))
    scaled = dict(iter_frames(joined, [14]))[14].astype(float)
    import cv2

    shrunk = cv2.resize(scaled, (80, 48), interpolation=cv2.INTER_AREA)
    errors = [np.abs(shrunk - small[j]).mean() for j in range(10)]  # 3.1 for its own, 5.8-65
    assert int(np.argmin(errors)) == 4 and errors[4] < 4.5, errors
