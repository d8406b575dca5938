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


def write_source(path: Path, audio_codec: str, video_codec: str = "libx264") -> Path:
    """A 2 s video (grey frames at 10 frames/s) with a mono ``audio_codec`` tone."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(video_codec, rate=FPS)
        video.height, video.width = SIZE
        video.pix_fmt = "yuv420p"
        sound = out.add_stream(audio_codec, rate=RATE, layout="mono")
        sound.bit_rate = 32000  # WMA's encoder has no default bit rate
        sound.codec_context.open()
        fmt = sound.codec_context.codec.audio_formats[0].name
        samples = tone(SECONDS)
        step = sound.codec_context.frame_size or 1024
        for start in range(0, len(samples), step):
            chunk = samples[None, start : start + step]
            if fmt.startswith("s16"):
                chunk = (chunk * 32767).astype(np.int16)
            elif fmt.startswith("s32"):
                chunk = (chunk * 2**31).astype(np.int32)
            else:
                chunk = chunk.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
        for i in range(SECONDS * FPS):
            image = np.full((*SIZE, 3), 40 + 4 * i, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    return path


def reencode(source: Path, output: Path) -> VideoSink:
    """Pass every frame of ``source`` through a :class:`VideoSink` with its audio."""
    with VideoSource(source) as src:
        sink = VideoSink(output, src.width, src.height, src.rate, src.audio,
                         time_base=src.time_base)  # fmt: skip
        with sink:
            for pts, planes in src.timed_frames(on_audio=sink.write_audio):
                sink.write(planes, pts)
    return sink


def decoded_audio(path: Path) -> tuple[str, int, float, np.ndarray]:
    """Codec, sample rate, first sample's time (s) and the mono samples of a file's audio."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(audio=0))
        first = float(frames[0].pts * frames[0].time_base)
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(float)
        if samples.dtype.kind == "i" or np.abs(samples).max() > 2:
            samples = samples / 32768
        return stream.codec_context.name, stream.codec_context.sample_rate, first, samples


@pytest.mark.parametrize(
    ("codec", "container", "expected"),
    [
        ("aac", "mp4", True),
        ("wmav2", "mp4", False),
        ("wmav2", "matroska", False),
        ("pcm_mulaw", "mov", True),
        ("pcm_mulaw", "mp4", False),
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

    codec_in, rate_in, first_in, before = decoded_audio(source)
    codec_out, rate_out, first_out, after = decoded_audio(tmp_path / "out.mp4")
    assert (codec_in, codec_out) == ("wmav2", "aac") and rate_out == rate_in == RATE
    # each sample decodes at its source time: on one time line (the decoded timestamps, the
    # AAC encoder's priming samples included) the sweeps line up to the sample
    line_in = np.concatenate([np.zeros(round(first_in * RATE)), before])
    line_out = np.concatenate([np.zeros(round(first_out * RATE)), after])
    n = min(len(line_in), len(line_out)) - 2048
    scores = {lag: float(np.dot(line_in[2048:n], line_out[2048 + lag : n + lag]))
              for lag in range(-1024, 1025)}  # fmt: skip
    assert abs(max(scores, key=scores.__getitem__)) <= 1
    aligned = np.corrcoef(line_in[2048:n], line_out[2048:n])[0, 1]
    assert aligned > 0.95
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
        VideoSink(output, src.width, src.height, src.rate, src.audio) as sink,
    ):
        broken = av.Packet(b"\x00\x00\x00")
        broken.stream, broken.pts = src.audio, 0
        sink.write_audio(broken)
        for planes in src.frames(on_audio=sink.write_audio):
            sink.write(planes)
    assert sink._audio is not None and sink._audio.skipped == 1
    assert "a wmav2 packet at pts 0 did not decode" in caplog.text
    codec, _, _, samples = decoded_audio(output)
    assert codec == "aac" and len(samples) >= RATE * SECONDS - 2048
