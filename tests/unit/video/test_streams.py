"""A restored video carries every audio and subtitle track of its source, with its language,
title and disposition; text subtitles a container cannot copy are converted to its own."""

from __future__ import annotations

import logging
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mosaicflow.inference.pipeline import RestoreSettings, restore_video

from ..inference.conftest import InvertingRestorer, ScriptedDetector
from .clips import NEEDS_FFMPEG
from .test_audio import reencode

RATE, FPS, SECONDS = 16000, 10, 2
SIZE = (48, 64)  # height, width
CUES = [(0.2, 1.0, "Hello"), (1.1, 1.8, "Zweite Zeile")]  # start s, end s, text


def srt_file(path: Path, cues_at: list[tuple[float, float, str]] = CUES) -> Path:
    """A SubRip file of ``cues_at`` (start s, end s, text)."""

    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"00:00:{ms // 1000:02d},{ms % 1000:03d}"

    cues = [
        f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues_at, 1)
    ]
    path.write_text("\n".join(cues), encoding="utf-8")
    return path


def add_tone(out, language: str, title: str | None, default: bool):
    """A mono AAC stream with its tags and disposition (nothing muxed yet)."""
    stream = out.add_stream("aac", rate=RATE, layout="mono")
    stream.metadata["language"] = language
    if title:
        stream.metadata["title"] = title
    stream.disposition = av.stream.Disposition.default if default else av.stream.Disposition(0)
    stream.codec_context.open()
    return stream


def mux_tone(out, stream, hz: float) -> None:
    """Two seconds of a ``hz`` tone into ``stream``."""
    t = np.arange(RATE * SECONDS) / RATE
    samples = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    step = stream.codec_context.frame_size
    for start in range(0, len(samples), step):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + step], format="fltp",
                                           layout="mono")  # fmt: skip
        frame.sample_rate, frame.time_base, frame.pts = RATE, Fraction(1, RATE), start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def write_source(tmp_path: Path, cues_at: list[tuple[float, float, str]] = CUES) -> Path:
    """A 2 s ``.mkv``: video, two AAC tracks (English default; French commentary) and German
    forced SubRip subtitles."""
    path = tmp_path / "in.mkv"
    srt = srt_file(tmp_path / "cues.srt", cues_at)
    with av.open(str(srt)) as cues, av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.height, video.width = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast"}
        subs = out.add_stream_from_template(cues.streams.subtitles[0])
        subs.metadata["language"] = "deu"
        subs.disposition = av.stream.Disposition.forced
        tones = [(add_tone(out, "eng", None, True), 440),
                 (add_tone(out, "fra", "Commentary", False), 880)]  # fmt: skip
        for stream, hz in tones:
            mux_tone(out, stream, hz)
        for packet in cues.demux(cues.streams.subtitles[0]):
            if packet.dts is None:
                continue
            packet.stream = subs
            out.mux(packet)
        for i in range(SECONDS * FPS):
            image = np.full((*SIZE, 3), 40 + 4 * i, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    return path


def streams_of(path: Path) -> list[dict]:
    """Each non-video stream: type, codec, language, title, default/forced, and its packets
    (subtitles: text, start and end in seconds from the video's start; audio: the count)."""
    found = []
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        origin = float(video.start_time * video.time_base) if video.start_time else 0.0
        for stream in container.streams:
            if stream.type == "video":
                continue
            flags = stream.disposition
            found.append({
                "type": stream.type,
                "codec": stream.codec_context.name,
                "language": stream.metadata.get("language"),
                # an .mp4 track's title reads back as "name"
                "title": stream.metadata.get("title") or stream.metadata.get("name"),
                "default": bool(flags & av.stream.Disposition.default),
                "forced": bool(flags & av.stream.Disposition.forced),
                "index": stream.index,
            })  # fmt: skip
        packets: dict[int, list] = {entry["index"]: [] for entry in found}
        for packet in container.demux():
            if packet.stream.index in packets and packet.size and packet.pts is not None:
                packets[packet.stream.index].append(packet)
        for entry in found:
            stream, own = container.streams[entry["index"]], packets[entry.pop("index")]
            if entry["type"] == "subtitle":
                # mp4 fills the time between cues with empty samples: not cues
                entry["cues"] = [c for c in (cue_of(stream, p, origin) for p in own) if c[2]]
            else:
                entry["packets"] = len(own)
    return found


def cue_of(stream, packet, origin: float) -> tuple[float, float, str]:
    """A subtitle packet's start and end (s from ``origin``, to the ms) and text (SubRip or
    mov_text)."""
    payload = bytes(packet)
    if stream.codec_context.name == "mov_text":
        payload = payload[2 : 2 + int.from_bytes(payload[:2], "big")]
    start = float(packet.pts * packet.time_base) - origin
    end = start + float(packet.duration * packet.time_base)
    return round(start, 3), round(end, 3), payload.decode("utf-8").strip()


def test_mkv_keeps_every_track_its_language_title_and_disposition(tmp_path):
    source = write_source(tmp_path)
    sink = reencode(source, tmp_path / "out.mkv")
    before, after = streams_of(source), streams_of(tmp_path / "out.mkv")
    assert [s["type"] for s in before] == ["subtitle", "audio", "audio"]
    assert after == before
    assert sink.audio == "copy (aac), copy (aac)" and sink.subtitles == "copy (subrip)"
    assert sink.audio_packets == before[1]["packets"] + before[2]["packets"]
    assert sink.dropped == []


def test_flags_a_container_drops_are_named_with_a_warning(tmp_path, caplog):
    """FFmpeg's .mov muxer keeps no forced or commentary flag; .mp4 and .mkv keep both."""
    source = write_source(tmp_path)
    with av.open(str(source)) as src, av.open(str(tmp_path / "flagged.mkv"), "w") as out:
        # the French track is marked commentary by its flag, not only by its title
        streams = {}
        for stream in src.streams:
            streams[stream.index] = out.add_stream_from_template(stream)
            streams[stream.index].metadata.update(stream.metadata)
            streams[stream.index].disposition = stream.disposition
        streams[3].disposition = av.stream.Disposition.comment
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    flagged = tmp_path / "flagged.mkv"
    for suffix in (".mkv", ".mp4"):
        with caplog.at_level(logging.WARNING):
            assert reencode(flagged, tmp_path / f"out{suffix}").lost_flags == []
        assert "does not keep these flags" not in caplog.text
    with caplog.at_level(logging.WARNING):
        sink = reencode(flagged, tmp_path / "out.mov")
    assert sink.lost_flags == ["#1 subtitle (subrip): forced", "#3 audio (aac): comment"]
    assert "stream #1 subtitle (subrip): forced: the .mov container does not keep" in caplog.text


def test_mp4_converts_subrip_to_mov_text_with_the_same_text_and_times(tmp_path):
    source = write_source(tmp_path)
    sink = reencode(source, tmp_path / "out.mp4")
    before, after = streams_of(source), streams_of(tmp_path / "out.mp4")
    subs = after[0]
    assert subs["codec"] == "mov_text" and subs["language"] == "deu" and subs["forced"]
    assert subs["cues"] == before[0]["cues"]
    assert [c[2] for c in subs["cues"]] == [c[2] for c in CUES]
    assert after[1:] == before[1:]  # both audio tracks copied, with their tags and flags
    assert sink.subtitles == "mov_text from subrip"


def test_overlapping_cues_keep_their_times_in_mp4_each_span_showing_every_cue(tmp_path):
    overlapping = [(0.1, 1.5, "[music]"), (0.5, 0.9, "A"), (1.0, 1.2, "B"), (1.6, 1.9, "C")]
    source = write_source(tmp_path, overlapping)
    reencode(source, tmp_path / "out.mp4")
    assert streams_of(tmp_path / "out.mp4")[0]["cues"] == [
        (0.1, 0.5, "[music]"),
        (0.5, 0.9, "[music]\nA"),
        (0.9, 1.0, "[music]"),
        (1.0, 1.2, "[music]\nB"),
        (1.2, 1.5, "[music]"),
        (1.6, 1.9, "C"),
    ]
    reencode(source, tmp_path / "out.mkv")  # .mkv holds overlapping cues: copied as they are
    assert streams_of(tmp_path / "out.mkv")[0]["cues"] == overlapping


def test_a_container_without_subtitles_leaves_them_out_with_a_warning(tmp_path, caplog):
    source = write_source(tmp_path)
    with caplog.at_level(logging.WARNING):
        sink = reencode(source, tmp_path / "out.avi")
    assert sink.dropped == ["#1 subtitle (subrip)"]
    assert "cannot go into avi in any form" in caplog.text
    assert [s["type"] for s in streams_of(tmp_path / "out.avi")] == ["audio", "audio"]
    assert sink.subtitles is None


def test_restore_reports_every_carried_and_dropped_stream(tmp_path):
    source = write_source(tmp_path)
    blank = [None] * (SECONDS * FPS)
    settings = RestoreSettings(batch=4, preset="ultrafast")
    result = restore_video(source, tmp_path / "out.mp4", ScriptedDetector(blank),
                           InvertingRestorer(), settings)  # fmt: skip
    assert (result.audio, result.subtitles) == ("copy (aac), copy (aac)", "mov_text from subrip")
    assert result.dropped_streams == []
    result = restore_video(source, tmp_path / "out.avi", ScriptedDetector(blank),
                           InvertingRestorer(), settings)  # fmt: skip
    assert result.subtitles is None and result.dropped_streams == ["#1 subtitle (subrip)"]


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_source_with_only_video_carries_nothing(tmp_path, suffix):
    path = tmp_path / f"in{suffix}"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.height, video.width = SIZE
        video.pix_fmt = "yuv420p"
        for i in range(5):
            frame = np.full((*SIZE, 3), 10 * i, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(video.encode(None))
    sink = reencode(path, tmp_path / f"out{suffix}")
    assert (sink.audio, sink.subtitles, sink.dropped, sink.audio_packets) == (None, None, [], 0)


def test_an_mp4_back_into_mkv_keeps_titles_and_gives_subrip_again(tmp_path):
    source = write_source(tmp_path)
    reencode(source, tmp_path / "mid.mp4")
    sink = reencode(tmp_path / "mid.mp4", tmp_path / "back.mkv")
    before, after = streams_of(source), streams_of(tmp_path / "back.mkv")
    assert sink.subtitles == "subrip from mov_text"
    # an .mp4 marks the first track of each kind default: the subtitles come back default
    assert after[0].pop("default") and not before[0].pop("default")
    assert after == before


@NEEDS_FFMPEG
def test_a_data_stream_is_named_and_not_carried(tmp_path, caplog):
    source = tmp_path / "in.mov"  # a camera-style .mov: video, audio and a timecode track
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1",
         "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-c:a", "aac",
         "-timecode", "01:00:00:00", str(source)],
        check=True,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        sink = reencode(source, tmp_path / "out.mov")
    assert "stream #2 data (" in caplog.text and "not carried" in caplog.text
    assert sink.audio == "copy (aac)" and sink.dropped == []
    with av.open(str(tmp_path / "out.mov")) as out:
        assert [s.type for s in out.streams] == ["video", "audio"]
    blank = [None] * 10
    result = restore_video(source, tmp_path / "restored.mov", ScriptedDetector(blank),
                           InvertingRestorer(), RestoreSettings(preset="ultrafast"))  # fmt: skip
    assert result.dropped_streams == ["#2 data (TimeCodeHandler)"]


@NEEDS_FFMPEG
def test_cover_art_is_named_as_left_out(tmp_path):
    cover = tmp_path / "cover.png"
    cover.write_bytes(cv2.imencode(".png", np.full((120, 160, 3), 200, np.uint8))[1].tobytes())
    source = tmp_path / "in.mp4"  # a download: the movie, its audio and a cover picture
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1",
         "-i", str(cover), "-f", "lavfi", "-i", "sine=duration=1", "-map", "0", "-map", "1",
         "-map", "2", "-c:v:0", "libx264", "-c:v:1", "mjpeg", "-disposition:v:1", "attached_pic",
         "-c:a", "aac", str(source)],
        check=True,
    )  # fmt: skip
    blank = [None] * 10
    result = restore_video(source, tmp_path / "out.mp4", ScriptedDetector(blank),
                           InvertingRestorer(), RestoreSettings(preset="ultrafast"))  # fmt: skip
    assert (result.frames, result.width, result.height) == (10, 64, 48)
    assert result.audio == "copy (aac)"
    assert result.dropped_streams == ["#2 video (mjpeg)"]


@NEEDS_FFMPEG
def test_a_track_ffmpeg_cannot_decode_is_left_out_not_fatal(tmp_path, caplog):
    source = tmp_path / "in.mp4"  # TTML subtitles: FFmpeg has an encoder but no decoder
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1",
         "-i", str(srt_file(tmp_path / "cues.srt")), "-c:v", "libx264", "-c:s", "ttml",
         str(source)],
        check=True,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        sink = reencode(source, tmp_path / "out.mkv")
    assert sink.dropped == ["#1 subtitle (SubtitleHandler)"]  # named by its .mp4 handler
    assert "FFmpeg has no decoder for it; left out" in caplog.text


def test_an_audio_track_without_parameters_is_left_out(caplog):
    from types import SimpleNamespace

    from mosaicflow.video.streams import CarriedStreams

    empty = SimpleNamespace(  # a broadcast recording's listed track that carries no data
        index=2, type="audio", metadata={}, disposition=0,
        codec_context=SimpleNamespace(sample_rate=0, channels=0,
                                      codec=SimpleNamespace(canonical_name="ac3")),
    )  # fmt: skip
    output = SimpleNamespace(format=SimpleNamespace(name="matroska"))
    with caplog.at_level(logging.WARNING):
        carried = CarriedStreams(output, [empty])
    assert carried.tracks == {} and carried.dropped == ["#2 audio (ac3)"]
    assert "no sample rate or channels" in caplog.text


def test_mov_gets_the_language_codes_quicktime_keeps(tmp_path):
    source = write_source(tmp_path)  # German subtitles "deu", English, French "fra"
    reencode(source, tmp_path / "out.mov")
    assert [s["language"] for s in streams_of(tmp_path / "out.mov")] == ["ger", "eng", "fra"]


@NEEDS_FFMPEG
@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_track_name_kept_as_the_mp4_handler_name_is_carried(tmp_path, suffix):
    named = tmp_path / "named.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(write_source(tmp_path)), "-map", "0",
         "-c", "copy", "-c:s", "mov_text", "-metadata:s:a:1", "handler_name=Director commentary",
         str(named)],
        check=True,
    )  # fmt: skip
    reencode(named, tmp_path / f"out{suffix}")
    with av.open(str(tmp_path / f"out{suffix}")) as out:
        tags = [{k.lower(): v for k, v in s.metadata.items()} for s in out.streams.audio]
    assert tags[1]["handler_name"] == "Director commentary"
    assert (tags[1].get("title") or tags[1]["name"]) == "Commentary"
    if suffix == ".mkv":  # and back: the .mkv's HANDLER_NAME tag is an .mp4's handler name
        reencode(tmp_path / "out.mkv", tmp_path / "again.mp4")
        with av.open(str(tmp_path / "again.mp4")) as out:
            assert out.streams.audio[1].metadata["handler_name"] == "Director commentary"
