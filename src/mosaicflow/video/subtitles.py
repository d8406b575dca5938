"""The subtitle tracks of a re-encoded video: the source's packets copied when the output
container can hold their codec, text subtitles converted to the container's own text codec
otherwise, bitmap subtitles that do not fit left out with a warning.

``.mp4`` and ``.mov`` take only ``mov_text`` for text, so SubRip, ASS or WebVTT tracks of an
``.mkv`` source are decoded and encoded as ``mov_text`` (the text and its times are kept, ASS
styling is not). ``.mkv`` takes nearly every subtitle codec as it is. ``.avi`` takes none.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import av

from mosaicflow.video.audio import copyable

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


class SubtitleTrack:
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
        self.stream = open_text_encoder(container, plan, self._decoder, template.time_base)
        log.info("subtitles: %s cannot be copied into %s; converted to %s (text and times "
                 "kept, styling not)", self.source_codec, container.format.name, plan)  # fmt: skip

    @property
    def description(self) -> str:
        """``copy (<codec>)`` or ``<codec> from <codec>``."""
        if self.copied:
            return f"copy ({self.source_codec})"
        return f"{self.stream.codec_context.name} from {self.source_codec}"

    def write(self, packet: av.Packet) -> None:
        """Copy one source packet, or decode it and encode its text."""
        self.packets += 1
        if self.copied:
            packet.stream = self.stream
            self._container.mux(packet)
            return
        try:
            subtitle = self._decoder.decode2(packet)
            if subtitle is None:
                return
            out = self.stream.codec_context.encode_subtitle(subtitle)
        except (av.FFmpegError, ValueError) as err:
            self.skipped += 1
            log.warning("subtitles: a %s packet at pts %s did not convert (%s); skipped",
                        self.source_codec, packet.pts, err)  # fmt: skip
            return
        shown = subtitle.end_display_time - subtitle.start_display_time  # ms
        duration = packet.duration or round(shown / 1000 / packet.time_base)
        out.pts = out.dts = packet.pts if packet.pts is not None else packet.dts
        out.duration, out.time_base, out.stream = duration, packet.time_base, self.stream
        self._container.mux(out)

    def close(self) -> None:
        """Nothing is buffered: every packet was muxed as it came."""
