"""The subtitle tracks of a re-encoded video: the source's packets copied when the output
container can hold their codec, text subtitles converted to the container's own text codec
otherwise, bitmap subtitles that do not fit left out with a warning.

``.mp4`` and ``.mov`` take only ``mov_text`` for text, so SubRip, ASS or WebVTT tracks of an
``.mkv`` source are decoded and encoded as ``mov_text``: the text and its times are kept, bold,
italics, size and colour too, positions and ASS drawing not; overlapping cues are laid out as
spans that show every cue active in them (:mod:`mosaicflow.video.cues`). ``.mkv`` takes nearly
every subtitle codec as it is. ``.avi`` takes none.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import av

from mosaicflow.video.audio import copyable
from mosaicflow.video.cues import OPEN_CUE_SECONDS, Cue, CueTimeline, Span
from mosaicflow.video.track import CarriedTrack

log = logging.getLogger(__name__)

#: The text subtitle codec each container writes when a text track cannot be copied into it.
TEXT_CODECS = {
    "mp4": "mov_text",
    "mov": "mov_text",
    "ipod": "mov_text",
    "3gp": "mov_text",
    "3g2": "mov_text",
    "matroska": "subrip",
    "webm": "webvtt",
}


def subtitle_plan(template: Any, container_format: str) -> str | None:
    """How a source subtitle stream goes into a file of ``container_format``: ``"copy"``, the
    text codec it is converted to, or None (a bitmap track, a container without a text codec,
    or a track whose decoder or the container's encoder does not open: left out)."""
    if template.codec_context is None:  # no decoder in this FFmpeg (DVB teletext, TTML...)
        return None
    if copyable(template, container_format):
        return "copy"
    target = TEXT_CODECS.get(container_format)
    if target is None or not template.codec_context.codec.text_sub:
        return None
    try:
        decoder = template.codec_context
        decoder.open()  # gives the ASS header the encoder starts from
        with av.open(io.BytesIO(), "w", format=container_format) as probe:
            open_text_encoder(probe, target, decoder, template.time_base)
    except (av.FFmpegError, ValueError) as err:
        log.warning("subtitles: a %s track cannot be converted to %s (%s)",
                    template.codec_context.codec.canonical_name, target, err)  # fmt: skip
        return None
    return target


def open_text_encoder(container: Any, codec: str, decoder: Any, time_base: Any) -> Any:
    """Add a ``codec`` subtitle stream to ``container``, its encoder opened with the ASS header
    of the opened text ``decoder``; return the stream."""
    stream = container.add_stream(codec)
    encoder = stream.codec_context
    encoder.subtitle_header = decoder.subtitle_header
    encoder.time_base = time_base
    stream.time_base = time_base
    encoder.open()
    return stream


class SubtitleTrack(CarriedTrack):
    """One output subtitle stream, fed with a source subtitle stream's packets in order.

    Args:
        container: the output container (opened for writing, header not written yet).
        template: the source's subtitle stream.
        plan: :func:`subtitle_plan`'s answer for them (not None; it opened the decoder of a
            track to convert).
    """

    def __init__(self, container: Any, template: Any, plan: str) -> None:
        self._container = container
        self.source_codec = template.codec_context.codec.canonical_name  # "subrip", not "srt"
        self.copied = plan == "copy"
        self.packets = 0
        self.skipped = 0  # packets that did not convert
        if self.copied:
            self.stream = container.add_stream_from_template(template)
            return
        self._decoder = template.codec_context  # opened by subtitle_plan
        self._time_base = template.time_base
        self.stream = open_text_encoder(container, plan, self._decoder, template.time_base)
        # mov_text shows one sample at a time: overlapping cues become spans
        open_ticks = round(OPEN_CUE_SECONDS / template.time_base)
        self._timeline = CueTimeline(open_ticks) if plan == "mov_text" else None
        log.info("subtitles: %s cannot be copied into %s; converted to %s (text, times and "
                 "inline styles kept, positions not)", self.source_codec,
                 container.format.name, plan)  # fmt: skip

    @property
    def description(self) -> str:
        """``copy (<codec>)`` or ``<codec> from <codec>``."""
        if self.copied:
            return f"copy ({self.source_codec})"
        return f"{self.stream.codec_context.name} from {self.source_codec}"

    def _convert(self, packet: av.Packet) -> None:
        """Decode one source packet and encode its text."""
        try:
            subtitle = self._decoder.decode2(packet)
            if subtitle is None:
                return
            if self._timeline is not None:
                spans = [
                    span for cue in cues_of(subtitle, packet) for span in self._timeline.add(cue)
                ]
            else:
                out = self.stream.codec_context.encode_subtitle(subtitle)
        except (av.FFmpegError, ValueError) as err:
            self.skipped += 1
            log.warning("subtitles: a %s packet at pts %s did not convert (%s); skipped",
                        self.source_codec, packet.pts, err)  # fmt: skip
            return
        if self._timeline is not None:
            self._mux_spans(spans)
            return
        start, duration = timing(subtitle, packet)
        out.pts = out.dts = start
        out.duration, out.time_base, out.stream = duration, packet.time_base, self.stream
        self._container.mux(out)

    def _mux_spans(self, spans: list[Span]) -> None:
        """Encode and write each span; one that does not encode is left out with a warning."""
        for span in spans:
            length = span.end - span.start
            try:
                shown = av.subtitles.subtitle.SubtitleSet.create(
                    span.dialogue, 0, length, span.start
                )
                out = self.stream.codec_context.encode_subtitle(shown)
            except (av.FFmpegError, ValueError, OverflowError) as err:
                self.skipped += 1
                log.warning("subtitles: the text shown from %s to %s (ticks of %s) did not "
                            "encode as %s (%s); left out", span.start, span.end,
                            self._time_base, self.stream.codec_context.name, err)  # fmt: skip
                continue
            out.pts = out.dts = span.start
            out.duration, out.time_base, out.stream = length, self._time_base, self.stream
            self._container.mux(out)

    def close(self) -> None:
        """Write the cues still showing at the end (``mov_text``)."""
        if not self.copied and self._timeline is not None:
            self._mux_spans(self._timeline.finish())
            if self._timeline.moved or self._timeline.lost:
                log.warning("subtitles: %d cues came out of order: %d shown from where the cues "
                            "already written end, %d left out (over by then)",
                            self._timeline.moved + self._timeline.lost, self._timeline.moved,
                            self._timeline.lost)  # fmt: skip


def timing(subtitle: Any, packet: av.Packet) -> tuple[int, int]:
    """A decoded subtitle's start and duration in ticks of its packet's time base (duration 0:
    none given)."""
    base = packet.pts if packet.pts is not None else packet.dts
    start = base + round(subtitle.start_display_time / 1000 / packet.time_base)
    shown = subtitle.end_display_time - subtitle.start_display_time  # ms
    return start, packet.duration or max(0, round(shown / 1000 / packet.time_base))


def cues_of(subtitle: Any, packet: av.Packet) -> list[Cue]:
    """The text cues of a decoded subtitle (one per ASS event it holds)."""
    start, duration = timing(subtitle, packet)
    end = start + duration if duration > 0 else None
    return [
        Cue(start, end, bytes(rect.ass)) for rect in subtitle.rects if getattr(rect, "ass", None)
    ]
