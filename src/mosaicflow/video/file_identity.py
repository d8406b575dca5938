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

#: FFmpeg's interlaced field orders (``AVFieldOrder``) whose first field is the top one (TT,
#: TB: coded and shown top first, or coded bottom first and shown top first) and the bottom one.
TOP_FIELD_FIRST = frozenset({2, 4})
BOTTOM_FIELD_FIRST = frozenset({3, 5})

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
    """

    tags: Mapping[str, str] = field(default_factory=dict)
    chapters: tuple[dict[str, Any], ...] = ()
    video: Any = None


def file_tags(container: Any) -> dict[str, str]:
    """The file-level tags of an opened source, except those a muxer writes itself
    (:data:`MUXER_TAGS`, matched without case: an ``.mkv`` names its writer ``ENCODER``)."""
    return {k: v for k, v in container.metadata.items() if k.lower() not in MUXER_TAGS}


def shifted_chapters(chapters: list[dict[str, Any]], origin: float) -> tuple[dict[str, Any], ...]:
    """``chapters`` (PyAV's ``Container.chapters()``) moved ``origin`` seconds earlier: the
    restored video starts at 0 where the source's video starts (see
    :attr:`~mosaicflow.inference.video_io.VideoSource.origin`). A chapter that ends by then is
    left out and one that spans it starts at 0; ids are renumbered from 1 in order."""
    kept = []
    for chapter in chapters:
        base = Fraction(chapter["time_base"])
        shift = round(Fraction(origin) / base) if origin else 0
        start, end = int(chapter["start"]) - shift, int(chapter["end"]) - shift
        if end <= 0:
            continue
        kept.append({**chapter, "start": max(start, 0), "end": end})
    return tuple({**chapter, "id": i} for i, chapter in enumerate(kept, 1))


def keep_picture(template: Any, stream: Any) -> None:
    """Give the output's video ``stream`` (not opened yet) the picture description of the
    source's video stream ``template``: its colour (range, matrix, primaries, transfer) and its
    pixel aspect ratio. Its field order is the encoder's to keep (:func:`interlacing`,
    :class:`FieldMarks`).

    The restored frames keep the source's samples: a full-range source's stay full range, an
    HDR source's stay on its transfer curve, an anamorphic DVD's pixels stay narrow. Untagged,
    a player reads them as limited-range video of its own guess of matrix and curve (crushed
    blacks and whites, washed-out HDR) with square pixels (a 16:9 DVD shown at 3:2).
    """
    source, output = template.codec_context, stream.codec_context
    full = source.pix_fmt in FULL_RANGE_FORMATS
    output.color_range = FULL_RANGE if full else source.color_range
    output.colorspace = source.colorspace
    output.color_primaries = source.color_primaries
    output.color_trc = source.color_trc
    aspect = template.sample_aspect_ratio or source.sample_aspect_ratio
    if aspect:
        output.sample_aspect_ratio = aspect


def interlacing(template: Any) -> str | None:
    """``tff`` or ``bff``: the field order of the source's interlaced video stream
    ``template``; None for progressive (or unknown) video."""
    order = template.codec_context.field_order
    if order in TOP_FIELD_FIRST:
        return "tff"
    if order in BOTTOM_FIELD_FIRST:
        return "bff"
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


def source_identity(container: Any, video: Any, origin: float) -> SourceIdentity:
    """The identity of an opened source whose restored ``video`` stream starts at ``origin``
    seconds of the source."""
    return SourceIdentity(
        tags=file_tags(container),
        chapters=shifted_chapters(container.chapters(), origin),
        video=video,
    )
