"""What a re-encoded video keeps of its source file besides the streams it carries
(:mod:`mosaicflow.video.streams`): the file's tags (title, artist, comment, date, creation
time...), its chapters, and the video stream's language, title and disposition, and its picture:
colour description (range, matrix, primaries, transfer), pixel aspect ratio and field order.

FFmpeg's ``.mp4`` and ``.mov`` muxers store chapters in a text track of their own, which their
demuxer reads back as chapters and marks discarded; :func:`is_chapter_track` names it, so that
it is not reported as a stream left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av

#: FFmpeg's pixel formats of full-range ("JPEG") YUV: full range even where the range is not
#: flagged (MJPEG, some phone and screen recordings).
FULL_RANGE_FORMATS = frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "yuvj411p"})
#: ``color_range`` of full-range video (FFmpeg's ``AVCOL_RANGE_JPEG``).
FULL_RANGE = 2

#: FFmpeg's field orders (``AVFieldOrder``) of interlaced video, grouped by the field shown first
#: as FFmpeg's own tools write them: TT and TB top first (a top-first ``.mkv`` written by
#: ``ffmpeg`` reads back as TB), BB and BT bottom first.
TOP_FIELD_FIRST = frozenset({2, 4})
BOTTOM_FIELD_FIRST = frozenset({3, 5})
#: The field order every DV format has (bottom first), whose streams do not state it.
DV_FIELDS = "bff"
#: ``colorspace`` (matrix) of RGB-coded video (FFmpeg's ``AVCOL_SPC_RGB``).
RGB_MATRIX = 0

#: File-level tags a muxer writes itself: the container's brand and version, the writing library.
MUXER_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder"})


@dataclass(frozen=True)
class SourceIdentity:
    """A source file's identity, for its re-encoded copy.

    Attributes:
        tags: the file-level tags to write (:func:`file_tags`).
        chapters: the chapters (PyAV's ``Chapter`` dicts), in the restored video's time
            (:func:`shifted_chapters`).
        video: the source's video stream, whose tags and disposition
            (:func:`~mosaicflow.video.streams.keep_identity`), colour and pixel aspect ratio
            (:func:`keep_picture`) and field order (:func:`interlacing`) the output's video
            stream takes; None: the muxer's and encoder's own.
        interlaced: the source's first frame is interlaced (whether or not its stream states
            a field order).
    """

    tags: Mapping[str, str] = field(default_factory=dict)
    chapters: tuple[dict[str, Any], ...] = ()
    video: Any = None
    interlaced: bool = False


def file_tags(container: Any) -> dict[str, str]:
    """The file-level tags of an opened source, except those a muxer writes itself
    (:data:`MUXER_TAGS`, matched without case: an ``.mkv`` names its writer ``ENCODER``)."""
    return {k: v for k, v in container.metadata.items() if k.lower() not in MUXER_TAGS}


def shifted_chapters(chapters: list[dict[str, Any]], origin: float) -> tuple[dict[str, Any], ...]:
    """``chapters`` (PyAV's ``Container.chapters()``) moved ``origin`` seconds earlier: the
    restored video starts at 0 where the source's video starts (see
    :attr:`~mosaicflow.inference.video_io.VideoSource.origin`). A chapter that is over by then is
    left out and one that spans it starts at 0; one that ends before it starts ends where it
    starts (a muxer refuses the file otherwise); ids are renumbered from 1 in order."""
    kept = []
    for chapter in chapters:
        base = Fraction(chapter["time_base"])
        shift = round(Fraction(origin) / base) if origin else 0
        start, end = int(chapter["start"]) - shift, int(chapter["end"]) - shift
        if end < 0 or (end == 0 < end - start):  # over by the restored video's start
            continue
        start = max(start, 0)
        kept.append({**chapter, "start": start, "end": max(end, start)})
    return tuple({**chapter, "id": i} for i, chapter in enumerate(kept, 1))


def keep_picture(template: Any, stream: Any) -> None:
    """Give the output's video ``stream`` (not opened yet) the picture description of the
    source's video stream ``template``: its colour (range, matrix, primaries, transfer) and its
    pixel aspect ratio. Its field order is the encoder's to keep (:func:`interlacing`,
    :class:`FieldMarks`).

    The restored frames keep the source's samples: a full-range source's stay full range, an
    HDR source's stay on its transfer curve, an anamorphic DVD's pixels stay narrow. Untagged,
    a player reads them as limited-range video of its own guess of matrix and curve (crushed
    blacks and whites, washed-out HDR) with square pixels (a 16:9 DVD shown at 3:2). An RGB
    source (PNG, ``bgr0`` FFV1) keeps its primaries and transfer only: its frames are converted
    to YUV by swscale's matrix and range, which H.264's RGB matrix tag would misstate.
    """
    source, output = template.codec_context, stream.codec_context
    output.color_primaries = source.color_primaries
    output.color_trc = source.color_trc
    rgb = source.colorspace == RGB_MATRIX or av.VideoFormat(source.pix_fmt).is_rgb
    if not rgb:  # RGB becomes YUV in the restore, by swscale's own matrix: left unstated
        full = source.pix_fmt in FULL_RANGE_FORMATS
        output.color_range = FULL_RANGE if full else source.color_range
        output.colorspace = source.colorspace
    aspect = template.sample_aspect_ratio or source.sample_aspect_ratio
    if aspect:
        output.sample_aspect_ratio = aspect


def interlacing(template: Any) -> str | None:
    """``tff`` or ``bff``: the field order of the source's interlaced video stream
    ``template`` (DV's, which its stream does not state, bottom first); None for progressive
    video and where the stream states no order."""
    context = template.codec_context
    if context.field_order in TOP_FIELD_FIRST:
        return "tff"
    if context.field_order in BOTTOM_FIELD_FIRST:
        return "bff"
    if context.name == "dvvideo":
        return DV_FIELDS
    return None


class FieldMarks:
    """Marks each frame interlaced with field order ``mode`` (``tff``/``bff``; libavfilter's
    ``setfield``): libx264 codes each frame's fields in the order its frame says, and a frame
    made from an array says bottom first.

    Args:
        width, height: the frames' size (``yuv420p``).
        time_base: the frames' time base.
        mode: ``tff`` or ``bff`` (:func:`interlacing`).
    """

    def __init__(self, width: int, height: int, time_base: Fraction, mode: str) -> None:
        self.graph = av.filter.Graph()
        source = self.graph.add_buffer(
            width=width, height=height, format="yuv420p", time_base=time_base
        )
        marks = self.graph.add("setfield", mode)
        source.link_to(marks)
        marks.link_to(self.graph.add("buffersink"))
        self.graph.configure()

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        self.graph.push(frame)
        return self.graph.pull()


def is_chapter_track(container: Any, stream: Any) -> bool:
    """Whether ``stream`` is the text track in which an ``.mp4``/``.mov`` holds the chapters of
    ``container``: a data stream its demuxer discards, in a file with chapters."""
    return (
        stream.type == "data"
        and stream.discard == av.stream.Discard.all
        and bool(container.chapters())
    )


def source_identity(
    container: Any, video: Any, origin: float, interlaced: bool = False
) -> SourceIdentity:
    """The identity of an opened source whose restored ``video`` stream starts at ``origin``
    seconds of the source (``interlaced``: its first frame is)."""
    return SourceIdentity(
        tags=file_tags(container),
        chapters=shifted_chapters(container.chapters(), origin),
        video=video,
        interlaced=interlaced,
    )
