"""Where a restored video's streams start: at 0 where the source's video starts, every carried
stream moved with it, as ``ffmpeg`` does; sound that the source hides is not heard."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from .clips import NEEDS_FFMPEG
from .test_audio import reencode

pytestmark = NEEDS_FFMPEG

#: A white flash and a beep, both 2.0 s into the recording.
FLASH = "color=c=black:s=64x48:r=25:d=4,drawbox=c=white:t=fill:enable='between(t,2,2.1)'"
BEEP = "aevalsrc='if(between(t\\,2\\,2.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:d=4"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def flash_and_beep(tmp_path: Path, *output: str) -> Path:
    """A 4 s ``.ts`` of :data:`FLASH` and :data:`BEEP`, with ``output`` options."""
    path = tmp_path / "in.ts"
    ffmpeg("-f", "lavfi", "-i", FLASH, "-f", "lavfi", "-i", BEEP, "-c:v", "libx264",
           "-preset", "ultrafast", "-c:a", "aac", *output, str(path))  # fmt: skip
    return path


def flash_time(path: Path) -> float:
    """When the first white frame is shown (s, the file's own times)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.to_ndarray(format="gray").mean() > 128:
                return float(frame.pts * frame.time_base)
    raise AssertionError(f"{path}: no flash")


def beep_time(path: Path) -> float:
    """When the first loud sample plays (s, the file's own times)."""
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray().reshape(-1)
            loud = np.nonzero(np.abs(samples) > 0.1)[0]
            if len(loud):
                channels = len(frame.layout.channels)
                return float(frame.pts * frame.time_base) + loud[0] // channels / frame.sample_rate
    raise AssertionError(f"{path}: no beep")


def video_start(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(next(container.decode(video=0)).time)


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param("3600", id="a-recording-an-hour-in"),
        pytest.param("95440.8", id="across-the-33-bit-pts-wrap"),  # video starts at -1.52 s
    ],
)
@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_the_video_starts_at_zero_and_the_sound_stays_with_it(tmp_path, offset, suffix):
    source = flash_and_beep(tmp_path, "-output_ts_offset", offset)
    gap = beep_time(source) - flash_time(source)
    output = tmp_path / f"out{suffix}"
    reencode(source, output)
    assert abs(video_start(output)) <= 0.03  # not the source's start
    assert beep_time(output) - flash_time(output) == pytest.approx(gap, abs=0.005)
    with av.open(str(output)) as out:
        assert float(out.duration / av.time_base) == pytest.approx(4.0, abs=0.1)


def test_audio_that_starts_after_the_default_probe_window_is_carried(tmp_path):
    source = tmp_path / "late.ts"  # the sound starts 8 s in: FFmpeg's 5 s probe sees none
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=10", "-itsoffset", "8",
           "-f", "lavfi", "-i", "sine=d=2:sample_rate=48000", "-map", "0", "-map", "1",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(source))  # fmt: skip
    with av.open(str(source)) as container:
        packets = sum(1 for p in container.demux(audio=0) if p.size)
    sink = reencode(source, tmp_path / "out.mkv")
    assert sink.dropped == [] and sink.audio_packets == packets
    assert beep_time(tmp_path / "out.mkv") - video_start(tmp_path / "out.mkv") == pytest.approx(
        8.0, abs=0.05
    )


def test_sound_before_the_start_of_a_cut_file_is_not_heard_where_no_edit_list_hides_it(tmp_path):
    whole, cut = tmp_path / "whole.mp4", tmp_path / "cut.mp4"
    ffmpeg("-f", "lavfi", "-i", FLASH.replace("d=4", "d=4,format=yuv420p"), "-f", "lavfi",
           "-i", BEEP, "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "flac",
           "-strict", "-2", str(whole))  # fmt: skip
    ffmpeg("-ss", "1.3", "-i", str(whole), "-c", "copy", "-strict", "-2", str(cut))
    hidden = 0
    with av.open(str(cut)) as container:
        for packet in container.demux(audio=0):
            hidden += bool(packet.size and packet.is_discard)
    assert hidden >= 10  # 1.3 s of sound before the cut (from the keyframe at 0), hidden

    sink = reencode(cut, tmp_path / "out.mkv")
    with av.open(str(tmp_path / "out.mkv")) as out:
        audio = out.streams.audio[0]
        heard = sum(
            frame.samples / frame.sample_rate for frame in out.decode(audio) if frame.samples
        )
    assert heard <= 2.7 + 0.2  # the cut's 2.7 s, the packet the cut falls in and the one before
    assert sink.audio_packets < sum(1 for _ in av.open(str(cut)).demux(audio=0))
    flash_gap = beep_time(tmp_path / "out.mkv") - flash_time(tmp_path / "out.mkv")
    assert flash_gap == pytest.approx(beep_time(cut) - flash_time(cut), abs=0.005)

    reencode(cut, tmp_path / "out.mp4")  # an edit list hides it again: every packet copied
    assert beep_time(tmp_path / "out.mp4") - video_start(tmp_path / "out.mp4") == pytest.approx(
        0.7, abs=0.01
    )


def test_an_mkv_with_b_frames_starting_late_keeps_its_sound_with_its_pictures(tmp_path):
    from fractions import Fraction

    from mosaicflow.inference.video_io import VideoSource

    path = tmp_path / "late.mkv"  # video and sound both from 5 s; B-frames: packets without dts
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width = video.height = 64
        video.pix_fmt, video.options = "yuv420p", {"bf": "3"}
        sound = out.add_stream("aac", rate=48000, layout="mono")
        rng = np.random.default_rng(0)
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (64, 64, 3), np.uint8),
                                               format="rgb24")  # fmt: skip
            frame.pts = 125 + i
            out.mux(video.encode(frame))
        for i in range(100):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="fltp",
                                               layout="mono")  # fmt: skip
            chunk.sample_rate, chunk.time_base, chunk.pts = (
                48000,
                Fraction(1, 48000),
                240000 + 960 * i,
            )
            out.mux(sound.encode(chunk))
        out.mux(video.encode(None))
        out.mux(sound.encode(None))
    sound_at: list[float] = []
    with VideoSource(path) as src:
        frames = [
            float(pts * src.time_base)
            for pts, _ in src.timed_frames(lambda p: sound_at.append(float(p.pts * p.time_base)))
        ]
    assert frames[:3] == [0.0, 0.04, 0.08] and len(frames) == 50
    assert abs(min(sound_at)) <= 0.05  # not 5 s before its pictures
