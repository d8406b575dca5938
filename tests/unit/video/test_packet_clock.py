"""Carried packets' timestamps made increasing across joins and repeated timestamps."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from mosaicflow.inference.video_io import CarriedPacketError, VideoSource
from mosaicflow.video.packet_clock import JoinClock

from .clips import NEEDS_FFMPEG

MS = Fraction(1, 1000)
VIDEO, AUDIO, SUBS = 0, 1, 2


def packet(dts: int, duration: int | None, pts: int | None = None) -> av.Packet:
    out = av.Packet(b"\x00")
    out.dts, out.pts = dts, dts if pts is None else pts
    out.time_base = MS
    if duration is not None:
        out.duration = duration
    return out


def feed(clock: JoinClock, packets: list[tuple[int, int, int | None]]) -> dict[int, list[int]]:
    """(stream, dts ms, duration ms) in demux order -> each stream's dts after the clock."""
    out: dict[int, list[int]] = {}
    for stream, dts, duration in packets:
        for ready, index in clock.fix(packet(dts, duration), stream, sparse=stream == SUBS):
            out.setdefault(index, []).append(ready.dts)
    for ready, index in clock.flush():
        out.setdefault(index, []).append(ready.dts)
    return out


def part(start: int, video: int, audio: int, cues: list[int]) -> list[tuple[int, int, int]]:
    """One recording: video frames every 100 ms, audio packets every 20 ms from ``start``
    (ms), 1 s cues at ``cues``, in time order."""
    packets = [(VIDEO, start + 100 * i, 100) for i in range(video)]
    packets += [(AUDIO, start + 20 * i, 20) for i in range(audio)]
    packets += [(SUBS, t, 1000) for t in cues]
    return sorted(packets, key=lambda p: (p[1], p[0]))


def test_a_join_moves_every_stream_by_one_shift_so_they_stay_in_sync():
    clock = JoinClock()  # part A: 3 s of video, 3 s of audio; part B from 0 again
    out = feed(clock, part(0, 30, 150, [500]) + part(0, 20, 100, [300]))
    assert clock.joins == 1
    assert out[VIDEO][30] == 3000 and out[AUDIO][150] == 3000  # B starts where A ended
    assert out[SUBS] == [500, 3300]  # the cue keeps its place in B


def test_audio_shorter_than_the_video_in_a_part_keeps_the_next_part_in_sync():
    clock = JoinClock()  # part A: 3 s of video but only 1.5 s of audio
    out = feed(clock, part(0, 30, 75, []) + part(0, 20, 100, []))
    assert out[VIDEO][30] == 3000 and out[AUDIO][75] == 3000  # not 1500: no early sound


def test_a_cue_of_the_new_part_later_than_the_last_cue_is_moved_too():
    clock = JoinClock()
    out = feed(clock, part(0, 30, 150, [500, 1500]) + part(0, 30, 150, [2500]))
    assert out[SUBS] == [500, 1500, 5500]


def test_a_cue_demuxed_first_after_the_join_finds_it_for_every_stream():
    clock = JoinClock()
    packets = part(0, 100, 500, [1000, 8000])
    b = part(0, 30, 150, [200])
    b.remove((SUBS, 200, 1000))
    out = feed(clock, [*packets, (SUBS, 200, 1000), *b])
    assert clock.joins == 1  # found by the video, the cue waited for it
    assert out[VIDEO][100] == 10000 and out[AUDIO][500] == 10000
    assert out[SUBS][-1] == 10200  # 0.2 s into the new part, as in the file


def test_a_cue_shown_past_the_end_of_its_part_does_not_push_the_next_part_back():
    clock = JoinClock()  # part A's last cue shows until 6 s, its pictures and sound end at 3 s
    out = feed(clock, [*part(0, 30, 150, []), (SUBS, 2000, 4000), *part(0, 30, 150, [])])
    assert out[VIDEO][30] == 3000 and out[AUDIO][150] == 3000


def test_repeated_times_move_on_for_audio_and_video_but_cues_may_start_together():
    clock = JoinClock()
    out = feed(clock, [(AUDIO, 0, 20), (AUDIO, 20, 20), (AUDIO, 20, 20), (AUDIO, 40, 20),
                       (SUBS, 100, 500), (SUBS, 100, 500), (SUBS, 90, 500)])  # fmt: skip
    assert out[AUDIO] == [0, 20, 21, 40]
    assert out[SUBS] == [100, 100, 101]
    assert clock.joins == 0 and clock.nudged == {AUDIO: 1, SUBS: 1}


def test_jitter_without_durations_is_not_taken_for_joins():
    clock = JoinClock()
    out = feed(clock, [(AUDIO, t, None) for t in [0, 20, 40, 35, 60, 80, 75, 100, 120]])
    assert out[AUDIO] == [0, 20, 40, 41, 60, 80, 81, 100, 120]
    assert clock.joins == 0


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
    from .test_audio import reencode

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


def test_a_start_shift_moves_every_stream():
    out = feed(JoinClock(shift=-1.4), part(1400, 10, 50, [1500]))
    assert out[VIDEO][0] == 0 and out[AUDIO][0] == 0 and out[SUBS] == [100]


def test_a_forward_jump_is_a_join_only_where_the_format_says_timestamps_jump():
    later = part(0, 30, 150, []) + part(3_600_000, 20, 100, [3_600_300])  # an hour later
    jumped = feed(JoinClock(jumps=True), later)
    assert jumped[VIDEO][30] == 3000 and jumped[AUDIO][150] == 3000
    assert jumped[SUBS] == [3300]  # the cue moves with its part
    kept = feed(JoinClock(), later)  # an .mkv: a gap in the recording is kept
    assert kept[VIDEO][30] == 3_600_000 and kept[AUDIO][150] == 3_600_000


def test_an_audio_pause_within_a_part_is_not_a_forward_join():
    clock = JoinClock(jumps=True)  # audio stops for 15 s while the video goes on
    packets = [(VIDEO, 100 * i, 100) for i in range(300)]
    packets += [(AUDIO, 20 * i, 20) for i in range(100)]
    packets += [(AUDIO, 17_000 + 20 * i, 20) for i in range(100)]
    out = feed(clock, sorted(packets, key=lambda p: (p[1], p[0])))
    assert clock.joins == 0 and out[AUDIO][100] == 17_000
