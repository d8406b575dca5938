"""A restored video keeps its source file's tags, chapters and video stream tags, in every
output container, and an .mp4's chapter track is not taken for a stream left out."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from mosaicflow.inference.video_io import VideoSink, VideoSource
from mosaicflow.video.encoders import Encoder
from mosaicflow.video.file_identity import FieldMarks, file_tags, shifted_chapters

from .clips import NEEDS_FFMPEG
from .test_audio import reencode

FPS, FRAMES, SIZE = 10, 30, (48, 64)  # 3 s; height, width
MS = Fraction(1, 1000)
CHAPTERS = [(0, 1200, "Opening"), (1200, 3000, "Zweiter Teil")]  # start ms, end ms, title


def chapter(number: int, start: int, end: int, title: str) -> dict:
    return {"id": number, "start": start, "end": end, "time_base": MS,
            "metadata": {"title": title}}  # fmt: skip


def write_source(path: Path) -> Path:
    """A 3 s video with file tags, two chapters and a tagged video stream."""
    with av.open(str(path), "w") as out:
        out.metadata.update({"title": "Ein Film", "comment": "shot in 2019", "artist": "A. B."})
        out.set_chapters([chapter(i, *c) for i, c in enumerate(CHAPTERS, 1)])
        video = out.add_stream("libx264", rate=FPS)
        video.height, video.width = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast"}
        video.metadata.update({"language": "jpn", "title": "Hauptfilm"})
        video.disposition = av.stream.Disposition.default
        for i in range(FRAMES):
            image = np.full((*SIZE, 3), 30 + 5 * i, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    return path


def identity_of(path: Path) -> dict:
    """The file's tags (the writer's own left out), chapters in ms and video stream tags."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        tags = {k.lower(): v for k, v in file_tags(container).items()}
        tags.pop("creation_time", None)
        chapters = [
            (round(c["start"] * c["time_base"] / MS), round(c["end"] * c["time_base"] / MS),
             c["metadata"].get("title"))
            for c in container.chapters()
        ]  # fmt: skip
        own = {k.lower(): v for k, v in video.metadata.items()}
        return {
            "tags": tags,
            "chapters": chapters,
            "video": (own.get("language"), own.get("title") or own.get("name")),
            "default": bool(video.disposition & av.stream.Disposition.default),
        }


@pytest.mark.parametrize("suffix", [".mkv", ".mp4", ".mov"])
def test_the_output_keeps_the_files_tags_chapters_and_video_tags(tmp_path, suffix):
    source = write_source(tmp_path / "in.mkv")
    out = tmp_path / f"out{suffix}"
    reencode(source, out)
    before, after = identity_of(source), identity_of(out)
    assert before["tags"] == {"title": "Ein Film", "comment": "shot in 2019", "artist": "A. B."}
    assert before["chapters"] == CHAPTERS
    assert after == before
    with av.open(str(out)) as written:  # the writer is named by the output's own tag
        assert any(k.lower() == "encoder" for k in written.metadata)


def test_an_mp4s_chapter_track_is_not_a_stream_left_out(tmp_path):
    mp4 = tmp_path / "chapters.mp4"
    reencode(write_source(tmp_path / "in.mkv"), mp4)
    with av.open(str(mp4)) as container:  # the muxer put the chapters in a data track
        assert [s.type for s in container.streams] == ["video", "data"]
    with VideoSource(mp4) as source:
        assert source.left_out == []
        assert [c["metadata"]["title"] for c in source.identity.chapters] == [
            c[2] for c in CHAPTERS
        ]
    again = tmp_path / "again.mp4"
    reencode(mp4, again)
    assert identity_of(again)["chapters"] == CHAPTERS


def test_chapters_move_with_a_video_that_starts_late():
    chapters = [chapter(7, 0, 400, "Logo"), chapter(8, 400, 1500, "A"), chapter(9, 1500, 3000, "B")]
    # the restored video starts at 0 where the source's video starts (0.5 s): a chapter that
    # ended by then is gone, one that spans it starts at 0, ids count from 1 again
    moved = shifted_chapters(chapters, 0.5)
    assert [(c["id"], c["start"], c["end"], c["metadata"]["title"]) for c in moved] == [
        (1, 0, 1000, "A"), (2, 1000, 2500, "B")
    ]  # fmt: skip
    assert shifted_chapters(chapters, 0.0) == tuple(
        {**c, "id": i} for i, c in enumerate(chapters, 1)
    )
    # one over exactly at the start goes, a mark of no length there stays; a chapter that ends
    # before it starts (which a muxer would refuse) ends where it starts
    edges = [chapter(1, 0, 400, "Logo"), chapter(2, 400, 400, "Mark"), chapter(3, 900, 800, "X")]
    assert [(c["start"], c["end"], c["metadata"]["title"]) for c in shifted_chapters(edges, 0.4)
            ] == [(0, 0, "Mark"), (500, 500, "X")]  # fmt: skip


def test_tags_a_muxer_writes_itself_are_left_to_the_output():
    written = {"ENCODER": "Lavf", "major_brand": "isom", "minor_version": "512",
               "compatible_brands": "isomiso2"}  # fmt: skip
    source = SimpleNamespace(metadata={**written, "title": "T", "creation_time": "2019"})
    assert file_tags(source) == {"title": "T", "creation_time": "2019"}


def write_coloured(path: Path, codec: str, pix_fmt: str, colour: dict[str, int]) -> Path:
    """A 1 s grey ramp video in ``pix_fmt`` whose stream carries ``colour`` (codec context
    fields)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=FPS)
        video.height, video.width = SIZE
        video.pix_fmt = pix_fmt
        video.options = {"x265-params": "log-level=error"} if codec == "libx265" else {}
        for name, value in colour.items():
            setattr(video.codec_context, name, value)
        ramp = np.tile(np.linspace(0, 255, SIZE[1]).astype(np.uint8), (SIZE[0], 1))
        for i in range(FPS):
            image = np.stack([ramp, np.roll(ramp, 8 * i, axis=1), ramp[:, ::-1]], axis=-1)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            for name, value in colour.items():
                if name != "colorspace":
                    setattr(frame, name, value)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


COLOUR = ("color_range", "colorspace", "color_primaries", "color_trc")


def colour_of(path: Path) -> tuple[int, ...]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return tuple(int(getattr(context, name)) for name in COLOUR)


def rgb_frames(path: Path) -> np.ndarray:
    """Every frame as RGB, converted by the stream's own colour description."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames).astype(np.float64)


# FFmpeg's values: range 1 limited, 2 full; matrix, primaries and transfer 1 BT.709,
# 9 BT.2020 (matrix: non-constant luminance), transfer 16 SMPTE ST 2084 (PQ)
@pytest.mark.parametrize(
    ("codec", "pix_fmt", "colour"),
    [
        ("libx264", "yuv420p", {"color_range": 1, "colorspace": 1, "color_primaries": 1,
                                "color_trc": 1}),
        ("libx264", "yuvj420p", {"color_range": 2}),
        ("libx265", "yuv420p10le", {"color_range": 1, "colorspace": 9, "color_primaries": 9,
                                    "color_trc": 16}),
    ],
    ids=["bt709", "full-range", "hdr10"],
)  # fmt: skip
def test_the_output_keeps_the_colour_description_its_samples_follow(
    tmp_path, caplog, codec, pix_fmt, colour
):
    source = write_coloured(tmp_path / "in.mkv", codec, pix_fmt, colour)
    out = tmp_path / "out.mp4"
    with caplog.at_level("WARNING"):
        reencode(source, out)
    tags = colour_of(source)
    assert [tags[COLOUR.index(name)] for name in colour] == list(colour.values())
    assert colour_of(out) == tags
    # a player converts the output's samples to the source's colours: mean RGB error 0.14
    # (8-bit sources) and 2.6 (10 bits cut to 8), against 6.2-8.1 with an untagged output
    bound = 4.0 if pix_fmt.endswith("10le") else 1.0
    assert np.abs(rgb_frames(out) - rgb_frames(source)).mean() < bound
    ten_bit = "10 bits per sample (yuv420p10le), restored and encoded at 8 bits" in caplog.text
    assert ten_bit == pix_fmt.endswith("10le")


def write_picture(path: Path, aspect: Fraction | None = None, fields: str | None = None) -> Path:
    """A 1 s video with square or ``aspect`` pixels, progressive or interlaced with ``fields``
    (``tff``/``bff``) first."""
    height, width = SIZE
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.height, video.width, video.pix_fmt = height, width, "yuv420p"
        if aspect:
            video.codec_context.sample_aspect_ratio = aspect
        marks = None
        if fields:
            video.options = {"x264-params": f"{fields}=1"}
            marks = FieldMarks(width, height, Fraction(1, FPS), fields)
        for i in range(FPS):
            rows = np.arange(height)[:, None] % 2 * 120 + 4 * i  # combing: odd rows brighter
            image = np.repeat((rows + np.zeros((1, width))).astype(np.uint8)[..., None], 3, -1)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(marks(frame) if marks else frame))
        out.mux(video.encode(None))
    return path


def frame_fields(path: Path) -> set[tuple[str, str]]:
    """Each frame's (interlaced_frame, top_field_first) as ffprobe reads them."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v",
         "-show_entries", "frame=interlaced_frame,top_field_first", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {tuple(line.split(",")[:2]) for line in probe.stdout.split()}


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_an_anamorphic_source_keeps_its_pixel_aspect_ratio(tmp_path, suffix):
    source = write_picture(tmp_path / "dvd.mkv", aspect=Fraction(32, 27))
    reencode(source, tmp_path / f"out{suffix}")
    for path in (source, tmp_path / f"out{suffix}"):
        with av.open(str(path)) as container:
            assert container.streams.video[0].sample_aspect_ratio == Fraction(32, 27), path


@NEEDS_FFMPEG
@pytest.mark.parametrize(("fields", "order"), [("tff", 2), ("bff", 3)])
def test_an_interlaced_source_is_coded_interlaced_in_its_field_order(tmp_path, fields, order):
    source = write_picture(tmp_path / "broadcast.mkv", fields=fields)
    out = tmp_path / "out.mkv"
    reencode(source, out)
    top = "1" if fields == "tff" else "0"
    for path in (source, out):
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.field_order == order, path
        assert frame_fields(path) == {("1", top)}, path
    progressive = write_picture(tmp_path / "progressive.mkv")
    reencode(progressive, tmp_path / "progressive-out.mkv")
    assert frame_fields(tmp_path / "progressive-out.mkv") == {("0", "0")}


def test_an_encoder_without_field_coding_says_the_fields_are_lost(tmp_path, caplog):
    source = write_picture(tmp_path / "broadcast.mkv", fields="tff")
    with VideoSource(source) as src, caplog.at_level("WARNING"):
        sink = VideoSink(tmp_path / "out.mkv", src.width, src.height, src.rate,
                         encoder=Encoder("mpeg4", {}), time_base=src.time_base,
                         identity=src.identity)  # fmt: skip
        with sink:
            for pts, planes in src.timed_frames(sink.write_packet):
                sink.write(planes, pts)
    assert "the source is interlaced; mpeg4 codes it as progressive frames" in caplog.text


def test_an_rgb_source_keeps_primaries_and_transfer_but_states_no_matrix(tmp_path):
    """RGB frames become YUV by swscale's matrix in the restore: H.264's RGB matrix tag, which
    4:2:0 may not carry, would misstate them."""
    colour = {"color_primaries": 1, "color_trc": 1}  # BT.709
    source = write_coloured(tmp_path / "in.mkv", "ffv1", "bgr0", colour)
    with av.open(str(source)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "bgr0"
    reencode(source, tmp_path / "out.mp4")
    # limited range (swscale's conversion gives it), matrix unstated, primaries and transfer kept
    assert colour_of(tmp_path / "out.mp4") == (1, 2, 1, 1)


@NEEDS_FFMPEG
def test_dv_is_coded_bottom_field_first_though_its_stream_does_not_say(tmp_path):
    height, width = 576, 720
    source = tmp_path / "camcorder.dv"
    with av.open(str(source), "w", format="dv") as out:
        video = out.add_stream("dvvideo", rate=25)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        for i in range(3):
            image = np.full((height, width, 3), 60 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    with av.open(str(source)) as container:
        assert container.streams.video[0].codec_context.field_order == 0  # unstated
    reencode(source, tmp_path / "out.mkv")
    assert frame_fields(tmp_path / "out.mkv") == {("1", "0")}
    with av.open(str(tmp_path / "out.mkv")) as container:  # the output's stream states it
        assert container.streams.video[0].codec_context.field_order == 3


def test_interlaced_fields_x264_cannot_code_are_coded_progressive_with_a_warning(tmp_path, caplog):
    # 4:2:0 fields need a height divisible by 4: 486 (NTSC archive masters) is not
    source = tmp_path / "ntsc.mkv"
    with av.open(str(source), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 50, "yuv444p"
        video.codec_context.field_order = 3  # bottom first, stated by the stream
        for i in range(3):
            image = np.full((50, 64, 3), 50 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv444p")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    with caplog.at_level("WARNING"):
        reencode(source, tmp_path / "out.mkv")
    assert "x264 codes 4:2:0 fields only at a height divisible by 4 (not 50)" in caplog.text
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert len([f for f in container.decode(video=0)]) == 3
