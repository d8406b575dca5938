"""The audio track of a re-encoded video: the source's packets copied when the output container
can hold their codec, else decoded and encoded as AAC.

Copying keeps the audio bit for bit and costs nothing, so it is the rule. Some sources carry a
codec the chosen container refuses (WMA from a ``.wmv`` in any of ``.mp4``, ``.mov`` and
``.mkv``; Vorbis or FLAC in ``.mov``; mu-law PCM in ``.mp4`` or ``.mkv``): their audio is
decoded and encoded as AAC at the same sample rate and channel layout, with each sample kept at
its presentation time.
"""

from __future__ import annotations

import io
import logging
from fractions import Fraction
from typing import Any

import av

log = logging.getLogger(__name__)

#: AAC bit rate per channel (bits/s) of transcoded audio; at most :data:`AAC_MAX_BITRATE`.
AAC_BITRATE_PER_CHANNEL = 96_000
AAC_MAX_BITRATE = 384_000


def copyable(template: Any, container_format: str) -> bool:
    """Whether the packets of ``template`` (a source audio stream) can be copied into a file of
    ``container_format`` (FFmpeg's muxer name): writes the header of such a file in memory."""
    try:
        with av.open(io.BytesIO(), "w", format=container_format) as probe:
            probe.add_stream_from_template(template)
            probe.start_encoding()
    except (av.FFmpegError, ValueError):
        return False
    return True


def _aac_rate(rate: int) -> int:
    """``rate`` when AAC codes it, else 48 kHz."""
    return rate if rate in av.Codec("aac", "w").audio_rates else 48_000


def _layout(template: Any) -> str:
    channels = template.codec_context.channels
    return {1: "mono", 2: "stereo"}.get(channels, template.codec_context.layout.name)


class AudioTrack:
    """The output's audio stream, fed with the source's packets in order.

    Args:
        container: the output container (PyAV, opened for writing, header not written yet).
        template: the source's audio stream (its packets come to :meth:`write`).
    """

    def __init__(self, container: Any, template: Any) -> None:
        self._container = container
        self.source_codec = template.codec_context.name
        self.copied = copyable(template, container.format.name)
        self.packets = 0
        self.skipped = 0  # packets that did not decode (transcoding only)
        if self.copied:
            self.stream = container.add_stream_from_template(template)
            return
        rate = _aac_rate(template.codec_context.sample_rate)
        layout = _layout(template)
        self.stream = container.add_stream("aac", rate=rate, layout=layout)
        channels = self.stream.codec_context.channels
        self.stream.bit_rate = min(AAC_BITRATE_PER_CHANNEL * channels, AAC_MAX_BITRATE)
        self._rate = rate
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate,
                                            frame_size=1024)  # fmt: skip
        self._decoder = template.codec_context
        self._next: int | None = None  # pts of the next encoded sample (1 / rate ticks)
        log.info("audio: %s cannot be copied into %s; encoding it as AAC, %d Hz, %s, %d kb/s",
                 self.source_codec, container.format.name, rate, layout,
                 self.stream.bit_rate // 1000)  # fmt: skip

    @property
    def description(self) -> str:
        """``copy (<codec>)`` or ``aac from <codec>``."""
        return f"copy ({self.source_codec})" if self.copied else f"aac from {self.source_codec}"

    def write(self, packet: av.Packet) -> None:
        """Copy one source packet, or decode it and encode what it holds."""
        self.packets += 1
        if self.copied:
            packet.stream = self.stream
            self._container.mux(packet)
            return
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError as err:
            self.skipped += 1
            log.warning("audio: a %s packet at pts %s did not decode (%s); skipped",
                        self.source_codec, packet.pts, err)  # fmt: skip
            return
        for frame in frames:
            self._encode(frame)

    def close(self) -> None:
        """Drain the decoder, the resampler and the encoder (transcoding only)."""
        if self.copied:
            return
        try:
            for frame in self._decoder.decode(None):
                self._encode(frame)
        except av.FFmpegError as err:
            log.warning("audio: draining the %s decoder failed (%s)", self.source_codec, err)
        self._encode(None)
        self._container.mux(self.stream.encode(None))

    def _encode(self, frame: av.AudioFrame | None) -> None:
        if frame is not None and self._next is None:
            start = frame.pts * frame.time_base * self._rate if frame.pts is not None else 0
            self._next = max(0, round(start))
        for out in self._resampler.resample(frame):
            out.pts, out.time_base = self._next or 0, Fraction(1, self._rate)
            self._next = (self._next or 0) + out.samples
            self._container.mux(self.stream.encode(out))
