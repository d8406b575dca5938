"""The restored video's audio: copied when the container holds the codec, else AAC at the same
times."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from mosaicflow.inference.video_io import VideoSink, VideoSource
from mosaicflow.video.audio import copyable

RATE, FPS, SECONDS = 16000, 10, 2
SIZE = (48, 64)  # height, width


def tone(seconds: float) -> np.ndarray:
    """A sweep from 200 Hz to 2 kHz: no two stretches of it look alike, so a shift in time
    shows."""
    t = np.arange(int(RATE * seconds)) / RATE
    return 0.4 * np.sin(2 * np.pi * (200 * t + 450 * t**2 / seconds))


def write_source(
    path: Path,
    audio_codec: str,
    video_codec: str = "libx264",
    *,
    audio_start: float = 0.0,
    layout: str = "mono",
) -> Path:
    """A 2 s video (grey frames at 10 frames/s) with an ``audio_codec`` sweep in every channel
    of ``layout``, starting ``audio_start`` seconds in."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(video_codec, rate=FPS)
        video.height, video.width = SIZE
        video.pix_fmt = "yuv420p"
        sound = out.add_stream(audio_codec, rate=RATE, layout=layout)
        sound.bit_rate = 32000  # WMA's encoder has no default bit rate
        sound.codec_context.open()
        fmt = sound.codec_context.codec.audio_formats[0].name
        channels = sound.codec_context.channels
        samples = tone(SECONDS - audio_start)
        step = sound.codec_context.frame_size or 1024
        offset = round(audio_start * RATE)
        for start in range(0, len(samples), step):
            chunk = samples[None, start : start + step]
            chunk = (
                np.repeat(chunk, channels, 0)
                if fmt.endswith("p")
                else (np.repeat(chunk, channels, 1))
            )
            if fmt.startswith("s16"):
                chunk = (chunk * 32767).astype(np.int16)
            elif fmt.startswith("s32"):
                chunk = (chunk * 2**31).astype(np.int32)
            else:
                chunk = chunk.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout=layout)
            frame.sample_rate, frame.time_base = RATE, Fraction(1, RATE)
            frame.pts = offset + start
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
        for i in range(SECONDS * FPS):
            image = np.full((*SIZE, 3), 40 + 4 * i, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    return path


def reencode(source: Path, output: Path) -> VideoSink:
    """Pass every frame of ``source`` through a :class:`VideoSink` with its audio, as a restore
    does (its subtitles, file tags and chapters too)."""
    with VideoSource(source) as src:
        sink = VideoSink(output, src.width, src.height, src.rate, src.carried,
                         time_base=src.time_base, identity=src.identity)  # fmt: skip
        with sink:
            for pts, planes in src.timed_frames(sink.write_packet):
                sink.write(planes, pts)
    return sink


def decoded_audio(path: Path) -> tuple[str, int, float, np.ndarray]:
    """Codec, sample rate, first sample's time (s, from the video's start) and the first
    channel's samples of a file's audio (the decoded timestamps: an AAC encoder's priming
    samples included)."""
    with av.open(str(path)) as container:
        stream, video = container.streams.audio[0], container.streams.video[0]
        origin = float(video.start_time * video.time_base) if video.start_time else 0.0
        frames = list(container.decode(audio=0))
        first = float(frames[0].pts * frames[0].time_base) - origin
        parts = []
        for frame in frames:
            array = frame.to_ndarray()
            channels = len(frame.layout.channels)
            parts.append(array[0] if frame.format.is_planar else array[0, ::channels])
        samples = np.concatenate(parts).astype(float)
        if np.abs(samples).max() > 2:  # integer samples
            samples = samples / 32768
        return stream.codec_context.name, stream.codec_context.sample_rate, first, samples


def timeline(path: Path) -> np.ndarray:
    """The first channel placed on the time line from the video's start by its decoded
    timestamps (samples before it cut off)."""
    _, _, first, samples = decoded_audio(path)
    start = round(first * RATE)
    return np.concatenate([np.zeros(start), samples]) if start >= 0 else samples[-start:]


def lag(before: np.ndarray, after: np.ndarray, start: int, stop: int) -> tuple[int, float]:
    """The shift (samples) that best lays ``after`` on ``before`` within ``[start, stop)``, and
    the correlation of the two there without a shift."""
    scores = {shift: float(np.dot(before[start:stop], after[start + shift : stop + shift]))
              for shift in range(-1024, 1025)}  # fmt: skip
    best = max(scores, key=scores.__getitem__)
    return best, float(np.corrcoef(before[start:stop], after[start:stop])[0, 1])


@pytest.mark.parametrize(
    ("codec", "container", "expected"),
    [
        ("aac", "mp4", True),
        ("wmav2", "mp4", False),
        ("wmav2", "matroska", False),
        ("pcm_mulaw", "mov", True),
        ("pcm_mulaw", "mp4", False),
        ("pcm_s16le", "mp4", False),  # ipcm: older readers misread it
        ("pcm_s16le", "matroska", True),
        ("flac", "mov", False),
        ("flac", "matroska", True),
    ],
)
def test_copyable_follows_what_the_container_holds(tmp_path, codec, container, expected):
    source = write_source(tmp_path / "in.avi", codec, video_codec="mpeg4")
    with av.open(str(source)) as opened:
        assert copyable(opened.streams.audio[0], container) is expected


def test_wma_of_a_wmv_becomes_aac_at_the_same_times_in_mp4(tmp_path):
    source = write_source(tmp_path / "in.wmv", "wmav2", video_codec="wmv2")
    sink = reencode(source, tmp_path / "out.mp4")
    assert sink.audio == "aac from wmav2"

    codec_in, rate_in, _, _ = decoded_audio(source)
    codec_out, rate_out, _, _ = decoded_audio(tmp_path / "out.mp4")
    assert (codec_in, codec_out) == ("wmav2", "aac") and rate_out == rate_in == RATE
    # each sample decodes at its source time: on one time line the sweeps line up to the sample
    before, after = timeline(source), timeline(tmp_path / "out.mp4")
    shift, aligned = lag(before, after, 2048, min(len(before), len(after)) - 2048)
    assert abs(shift) <= 1 and aligned > 0.95
    assert len(after) >= len(before)  # nothing cut: the priming and padding only add
    with av.open(str(tmp_path / "out.mp4")) as out:
        assert out.streams.video[0].frames == SECONDS * FPS


def test_a_copyable_codec_is_copied_packet_for_packet(tmp_path):
    source = write_source(tmp_path / "in.avi", "pcm_mulaw", video_codec="mpeg4")
    sink = reencode(source, tmp_path / "out.mov")
    assert sink.audio == "copy (pcm_mulaw)"
    with av.open(str(source)) as a, av.open(str(tmp_path / "out.mov")) as b:
        packets_in = [bytes(p) for p in a.demux(audio=0) if p.size]
        packets_out = [bytes(p) for p in b.demux(audio=0) if p.size]
    assert packets_out == packets_in


def test_a_packet_that_does_not_decode_is_skipped_and_named(tmp_path, caplog):
    source = write_source(tmp_path / "in.wmv", "wmav2", video_codec="wmv2")
    output = tmp_path / "out.mp4"
    with (
        VideoSource(source) as src,
        caplog.at_level(logging.WARNING),
        VideoSink(output, src.width, src.height, src.rate, src.carried) as sink,
    ):
        broken = av.Packet(b"\x00\x00\x00")
        broken.stream, broken.pts = src.carried[0], 0
        sink.write_packet(broken)
        for planes in src.frames(sink.write_packet):
            sink.write(planes)
    assert [t.skipped for t in sink._carried.tracks.values()] == [1]
    assert "a wmav2 packet at pts 0 did not decode" in caplog.text
    codec, _, _, samples = decoded_audio(output)
    assert codec == "aac" and len(samples) >= RATE * SECONDS - 2048


def test_the_evaluation_accepts_transcoded_audio_of_the_same_span(tmp_path):
    from mosaicflow.evaluation.scores import audio_kept, audio_stats, video_check

    source = write_source(tmp_path / "in.wmv", "wmav2", video_codec="wmv2")
    reencode(source, tmp_path / "out.mp4")
    frames = {"input": SECONDS * FPS, "restored": SECONDS * FPS}
    check = video_check(source, tmp_path / "out.mp4", frames)
    assert check["audio_ok"] and check["ok"], check
    before, after = audio_stats(source), audio_stats(tmp_path / "out.mp4")
    assert before is not None and after is not None and after["codec"] == "aac"
    assert abs(before["seconds"] - after["seconds"]) < 0.1
    assert not audio_kept(before, {**after, "seconds": after["seconds"] - 1})  # a second lost
    assert not audio_kept(before, {**before, "packets": before["packets"] - 1})  # a copy lost one
    assert not audio_kept(before, None) and audio_kept(None, None)


def test_audio_that_starts_late_stays_at_its_time(tmp_path):
    source = write_source(tmp_path / "in.wmv", "wmav2", video_codec="wmv2", audio_start=0.5)
    reencode(source, tmp_path / "out.mp4")
    before, after = timeline(source), timeline(tmp_path / "out.mp4")
    assert np.abs(before[: RATE // 2]).max() == 0  # silent until the audio starts
    shift, aligned = lag(before, after, RATE // 2 + 2048, min(len(before), len(after)) - 2048)
    assert abs(shift) <= 1 and aligned > 0.95


def test_a_packet_lost_mid_stream_leaves_a_gap_not_a_shift(tmp_path):
    source = write_source(tmp_path / "in.wmv", "wmav2", video_codec="wmv2")
    output = tmp_path / "out.mp4"
    with VideoSource(source) as src:
        sink = VideoSink(output, src.width, src.height, src.rate, src.carried,
                         time_base=src.time_base)  # fmt: skip
        seen = []

        def lossy(packet: av.Packet) -> None:
            seen.append(packet)
            if not 20 <= len(seen) < 23:  # three packets (about 100 ms) never arrive
                sink.write_packet(packet)

        with sink:
            for pts, planes in src.timed_frames(lossy):
                sink.write(planes, pts)
    assert [t.moved >= 1 for t in sink._carried.tracks.values()] == [True]
    before, after = timeline(source), timeline(output)
    # after the gap the audio is where the source has it, not 100 ms early
    end = min(len(before), len(after)) - 2048
    shift, aligned = lag(before, after, end - RATE // 2, end)
    assert abs(shift) <= 1 and aligned > 0.95
    assert abs(len(after) - len(before)) <= 2048  # the gap is kept as silence


def test_six_channels_without_an_order_become_5_1_aac(tmp_path):
    source = write_source(tmp_path / "in.mov", "pcm_s16le", video_codec="mpeg4",
                          layout="6 channels")  # fmt: skip
    sink = reencode(source, tmp_path / "out.mp4")
    assert sink.audio == "aac from pcm_s16le"
    with av.open(str(tmp_path / "out.mp4")) as out:
        audio = out.streams.audio[0].codec_context
        assert (audio.name, audio.channels, audio.layout.name) == ("aac", 6, "5.1")
    shift, aligned = lag(timeline(source), timeline(tmp_path / "out.mp4"), 2048, RATE)
    assert abs(shift) <= 1 and aligned > 0.95


def test_a_failed_audio_flush_leaves_no_file(tmp_path, monkeypatch):
    from mosaicflow.video.audio import AudioTrack

    def broken(self: AudioTrack) -> None:
        raise RuntimeError("flush failed")

    monkeypatch.setattr(AudioTrack, "close", broken)
    source = write_source(tmp_path / "in.wmv", "wmav2", video_codec="wmv2")
    with pytest.raises(RuntimeError, match="flush failed"):
        reencode(source, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wmv"]


@pytest.mark.parametrize(
    ("fmt", "layout"),
    [("fltp", "stereo"), ("s16", "stereo"), ("u8", "mono"), ("s32p", "5.1"), ("flt", "6 channels")],
)
def test_silence_and_trimming_keep_the_frame_format(fmt, layout):
    from mosaicflow.video.audio import silence, trimmed

    channels = len(av.AudioLayout(layout).channels)
    dtype = {"fltp": np.float32, "s16": np.int16, "u8": np.uint8, "s32p": np.int32,
             "flt": np.float32}[fmt]  # fmt: skip
    planar = fmt.endswith("p")
    samples = np.arange(100 * channels)
    array = (samples.reshape(channels, 100) if planar else samples.reshape(1, -1)).astype(dtype)
    frame = av.AudioFrame.from_ndarray(array, format=fmt, layout=layout)
    frame.sample_rate = RATE
    cut = trimmed(frame, 30)
    assert cut is not None and (cut.samples, cut.format.name, cut.sample_rate) == (70, fmt, RATE)
    expected = array[:, 30:] if planar else array[:, 30 * channels :]
    assert np.array_equal(cut.to_ndarray(), expected)
    assert trimmed(frame, 100) is None
    quiet = silence(frame, 50)
    assert (quiet.samples, quiet.format.name, quiet.layout.name) == (50, fmt, layout)
    assert set(np.unique(quiet.to_ndarray())) == ({128} if fmt == "u8" else {0})
