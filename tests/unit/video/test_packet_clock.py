"""Carried packets' timestamps made increasing across joins and repeated timestamps."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from mosaicflow.inference.video_io import CarriedPacketError, VideoSource
from mosaicflow.video.packet_clock import PacketClock

from .clips import NEEDS_FFMPEG

MS = Fraction(1, 1000)


def packet(dts: int, duration: int) -> av.Packet:
    out = av.Packet(b"\x00")
    out.dts = out.pts = dts
    out.duration = duration
    return out


def run(clock: PacketClock, times: list[int], duration: int, shared=None) -> list[int]:
    out = []
    for t in times:
        p = packet(t, duration)
        clock.fix(p, shared)
        out.append(p.dts)
    return out


def test_a_join_continues_where_the_last_packet_ended():
    clock = PacketClock(MS, dense=True)
    assert run(clock, [0, 20, 40, 60, 0, 20, 40], 20) == [0, 20, 40, 60, 80, 100, 120]
    assert clock.jumps == 1 and clock.shift_seconds == pytest.approx(0.08)


def test_a_repeated_timestamp_moves_just_past_the_last_one_and_nothing_else_moves():
    clock = PacketClock(MS, dense=True)
    assert run(clock, [0, 20, 20, 40, 39, 60], 20) == [0, 20, 21, 40, 41, 60]
    assert (clock.jumps, clock.nudged) == (0, 2)


def test_a_sparse_stream_takes_the_dense_streams_shift_at_a_join():
    clock = PacketClock(MS, dense=False)  # cues at 1 s and 3 s, then the join: 0.5 s again
    shared = 5.0  # the audio moved by 5 s at the join
    assert run(clock, [1000, 3000], 1000) == [1000, 3000]
    assert run(clock, [500, 2500], 1000, shared) == [5500, 7500]


def test_a_sparse_stream_without_a_usable_shared_shift_continues_after_its_last_cue():
    clock = PacketClock(MS, dense=False)
    assert run(clock, [1000, 3000, 500], 1000, shared=0.1) == [1000, 3000, 4000]


@NEEDS_FFMPEG
def test_a_joined_recording_keeps_every_frame_and_all_its_audio(tmp_path: Path):
    import subprocess

    part = tmp_path / "part.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2",
         "-f", "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-c:a", "aac", str(part)],
        check=True,
    )  # fmt: skip
    joined = tmp_path / "joined.ts"  # as `cat a.ts b.ts`: the timestamps restart at the join
    joined.write_bytes(part.read_bytes() * 2)
    from .test_streams import reencode

    sink = reencode(joined, tmp_path / "out.mp4")
    assert sink.frames_written == 40
    with av.open(str(part)) as one:
        packets = sum(1 for p in one.demux(audio=0) if p.size)
    assert sink.audio_packets == 2 * packets
    with av.open(str(tmp_path / "out.mp4")) as out:
        audio, video = out.streams.audio[0], out.streams.video[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(4.0, abs=0.15)
        assert float(video.duration * video.time_base) == pytest.approx(4.0, abs=0.15)


def test_a_packet_the_output_refuses_stops_the_run_instead_of_ending_the_video(tmp_path):
    from .test_streams import write_source

    source = write_source(tmp_path)

    def refuse(packet):
        raise av.FFmpegError(22, "Invalid argument")

    with VideoSource(source) as src, pytest.raises(CarriedPacketError, match=r"in\.mkv: a packet"):
        for _ in src.timed_frames(refuse):
            pass
