"""The audio track of a re-encoded video: the source's packets copied when the output container
can hold their codec, else decoded and encoded as AAC.

Copying keeps the audio bit for bit and costs nothing, so it is the rule. Some sources carry a
codec the chosen container refuses (WMA from a ``.wmv`` in any of ``.mp4``, ``.mov`` and
``.mkv``; Vorbis or FLAC in ``.mov``; mu-law PCM in ``.mp4`` or ``.mkv``), and PCM in ``.mp4``
(ISO's ``ipcm``, which FFmpeg writes but readers before FFmpeg 6.1 take for 16-bit samples
whatever the depth, so 24-bit audio plays as noise): their audio is decoded and encoded as AAC
at the same sample rate and channel layout, with each sample kept at its presentation time.
"""

from __future__ import annotations

import io
import logging
from fractions import Fraction
from typing import Any

import av
import numpy as np

from mosaicflow.video.track import CarriedTrack

log = logging.getLogger(__name__)

#: AAC bit rate per channel (bits/s) of transcoded audio; at most :data:`AAC_MAX_BITRATE`.
AAC_BITRATE_PER_CHANNEL = 96_000
AAC_MAX_BITRATE = 384_000


#: Codecs (by name prefix) that a container's muxer takes but common readers misread.
MISREAD = {"mp4": ("pcm_",)}


def copyable(template: Any, container_format: str) -> bool:
    """Whether the packets of ``template`` (a source audio stream) can be copied into a file of
    ``container_format`` (FFmpeg's muxer name): not a :data:`MISREAD` codec, and the header of
    such a file writes in memory."""
    if template.codec_context.name.startswith(MISREAD.get(container_format, ())):
        return False
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


#: The AAC layout of a source without a named channel order, by channel count (more than 8:
#: stereo).
AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1",
               8: "7.1"}  # fmt: skip


def aac_layout(channels: int, name: str) -> str:
    """The AAC channel layout for a source of ``channels`` with layout ``name``: the source's
    own when it names an order (``5.1(side)``), else the usual one of that many channels."""
    if channels <= 8 and name and "channels" not in name:
        return name
    return AAC_LAYOUTS.get(channels, "stereo")


#: Decoded audio whose timestamp lies more than this (s) from where the samples before it end
#: is moved there: a gap is filled with silence, an overlap trimmed (as the copied packets and
#: the video keep them).
DRIFT_LIMIT = 0.02
#: The longest stretch of silence made at once (s).
SILENCE_CHUNK = 1.0


def silence(like: av.AudioFrame, samples: int) -> av.AudioFrame:
    """``samples`` of silence in the format, layout and rate of ``like``."""
    frame = av.AudioFrame(format=like.format.name, layout=like.layout, samples=samples)
    fill = b"\x80" if like.format.name.startswith("u8") else b"\x00"
    for plane in frame.planes:
        plane.update(fill * plane.buffer_size)
    frame.sample_rate = like.sample_rate
    return frame


def trimmed(frame: av.AudioFrame, samples: int) -> av.AudioFrame | None:
    """``frame`` without its first ``samples`` (None: nothing left)."""
    if samples >= frame.samples:
        return None
    array = frame.to_ndarray()
    cut = samples if frame.format.is_planar else samples * len(frame.layout.channels)
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(array[:, cut:]),
                                     format=frame.format.name, layout=frame.layout)  # fmt: skip
    out.sample_rate = frame.sample_rate
    return out


class AudioTrack(CarriedTrack):
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
        self.moved = 0  # decoded frames moved to their timestamp (transcoding only)
        if self.copied:
            self.stream = container.add_stream_from_template(template)
            return
        source = template.codec_context
        self._rate = rate = _aac_rate(source.sample_rate)
        self._layout = layout = aac_layout(source.channels, source.layout.name)
        self.stream = container.add_stream("aac", rate=rate, layout=layout)
        channels = self.stream.codec_context.channels
        self.stream.bit_rate = min(AAC_BITRATE_PER_CHANNEL * channels, AAC_MAX_BITRATE)
        self.stream.codec_context.open()  # a layout or rate it cannot code fails here, early
        self._decoder = source
        self._resampler: av.AudioResampler | None = None  # decoded format -> the encoder's
        # cuts the converted samples into the encoder's frames
        self._framer = av.AudioResampler(format="fltp", layout=layout, rate=rate, frame_size=1024)
        self._start: int | None = None  # where the first sample lands (1 / rate ticks)
        self._fed = 0.0  # samples given to the resampler, at the output rate
        self._encoded = 0  # samples encoded
        log.info("audio: %s cannot be copied into %s; encoding it as AAC, %d Hz, %s, %d kb/s",
                 self.source_codec, container.format.name, rate, layout,
                 self.stream.bit_rate // 1000)  # fmt: skip

    @property
    def description(self) -> str:
        """``copy (<codec>)`` or ``aac from <codec>``."""
        return f"copy ({self.source_codec})" if self.copied else f"aac from {self.source_codec}"

    def _convert(self, packet: av.Packet) -> None:
        """Decode one source packet and encode what it holds."""
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError as err:
            self.skipped += 1
            log.warning("audio: a %s packet at pts %s did not decode (%s); skipped",
                        self.source_codec, packet.pts, err)  # fmt: skip
            return
        for frame in frames:
            self._place(frame)

    def close(self) -> None:
        """Drain the decoder, the resampler and the encoder (transcoding only)."""
        if self.copied:
            return
        try:
            for frame in self._decoder.decode(None):
                self._place(frame)
        except av.FFmpegError as err:
            log.warning("audio: draining the %s decoder failed (%s)", self.source_codec, err)
        if self._resampler is not None:
            for part in self._resampler.resample(None):
                self._emit(self._framer.resample(part))
        self._emit(self._framer.resample(None))
        self._container.mux(self.stream.encode(None))
        if self.moved:
            log.info("audio: %d decoded frames moved to their timestamps (gaps filled with "
                     "silence, overlaps trimmed)", self.moved)  # fmt: skip

    def _place(self, frame: av.AudioFrame) -> None:
        """Feed ``frame`` at its timestamp: silence before it after a gap, its start trimmed
        where it overlaps what came before."""
        if frame.pts is None:
            self._feed(frame)
            return
        want = float(frame.pts * frame.time_base * self._rate)
        if self._start is None:
            self._start = max(0, round(want))
        off = want - (self._start + self._fed)
        limit = DRIFT_LIMIT * self._rate
        if off > limit:
            self.moved += 1
            chunk = int(SILENCE_CHUNK * frame.sample_rate)
            left = round(off * frame.sample_rate / self._rate)
            while left > 0:
                self._feed(silence(frame, min(chunk, left)))
                left -= chunk
        elif off < -limit:
            self.moved += 1
            cut = trimmed(frame, round(-off * frame.sample_rate / self._rate))
            if cut is None:
                return
            frame = cut
        self._feed(frame)

    def _feed(self, frame: av.AudioFrame) -> None:
        """Convert ``frame`` to the encoder's format (a converter per decoded format) and cut
        the result into the encoder's 1024-sample frames."""
        if self._resampler is None:
            self._resampler = self._converter()
        self._fed += frame.samples * self._rate / frame.sample_rate
        try:
            converted = self._resampler.resample(frame)
        except ValueError:  # the decoded format changed mid-stream: drain, then a new one
            converted = self._resampler.resample(None)
            self._resampler = self._converter()
            converted += self._resampler.resample(frame)
        for part in converted:
            self._emit(self._framer.resample(part))

    def _converter(self) -> av.AudioResampler:
        return av.AudioResampler(format="fltp", layout=self._layout, rate=self._rate)

    def _emit(self, frames: list[av.AudioFrame]) -> None:
        for out in frames:
            out.pts, out.time_base = (self._start or 0) + self._encoded, Fraction(1, self._rate)
            self._encoded += out.samples
            self._container.mux(self.stream.encode(out))
