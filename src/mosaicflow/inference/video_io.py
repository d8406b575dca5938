"""Streaming video in and out: decode to 4:2:0 planes, encode, carry the audio and subtitles.

Frames travel as ``yuv420p`` arrays (``(H * 3 / 2, W)`` uint8, I420 layout), the format the
output is encoded in, so a frame that is not changed is encoded from exactly the planes that
were decoded (sources in other pixel formats are converted once, on decode). Changed frames are
converted to RGB and back with OpenCV (:func:`yuv_to_rgb`, :func:`rgb_to_yuv`) and only the
pixels the blend touched are taken from the conversion (:func:`merge_touched`); every other
sample keeps its decoded value. OpenCV's I420 conversions work on 2 x 2 blocks (one chroma
sample each), so a window with even corners converts to exactly the pixels the whole frame's
conversion gives there: :func:`yuv_window_to_rgb` and :func:`merge_window` do the same work on
the window a blend touched only.

Every audio and subtitle stream is copied packet by packet (no re-encode) while the video is
decoded, so nothing is read twice; an audio codec the output container cannot hold is encoded
as AAC, a text subtitle codec as the container's own text codec
(:mod:`mosaicflow.video.streams`). The output is written to a temporary sibling and renamed at
the end.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from mosaicflow.io import atomic_path
from mosaicflow.video.decode import SizeKeeper, VideoDecodeError, plane_arrays, probe_video
from mosaicflow.video.encoders import Encoder, EncoderSettings, x264_options
from mosaicflow.video.file_identity import (
    FieldMarks,
    SourceIdentity,
    interlacing,
    keep_picture,
    source_identity,
)
from mosaicflow.video.packet_clock import JoinClock
from mosaicflow.video.streams import (
    CarriedStreams,
    carried_streams,
    keep_identity,
    left_out_streams,
    lost_flags,
    without_parameters,
)

log = logging.getLogger(__name__)


def yuv_to_rgb(yuv: np.ndarray) -> np.ndarray:
    """``(H * 3 / 2, W)`` I420 planes -> ``(H, W, 3)`` RGB."""
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` RGB -> ``(H * 3 / 2, W)`` I420 planes (the inverse of :func:`yuv_to_rgb`)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def luma(yuv: np.ndarray) -> np.ndarray:
    """The Y plane (a view) of I420 planes."""
    return yuv[: yuv.shape[0] * 2 // 3]


def merge_touched(original: np.ndarray, changed: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """I420 planes that take ``changed`` where ``touched`` and ``original`` everywhere else.

    Args:
        original: the decoded planes.
        changed: planes of the edited frame (:func:`rgb_to_yuv` of the composite).
        touched: ``(H, W)`` bool pixels the blend changed; a chroma sample is taken from
            ``changed`` when any of its 2 x 2 pixels was touched.

    Returns:
        New planes (``original`` is not modified).
    """
    height, width = touched.shape
    out = original.copy()
    y_out, y_new = out[:height], changed[:height]
    y_out[touched] = y_new[touched]
    chroma_touched = touched.reshape(height // 2, 2, width // 2, 2).any(axis=(1, 3))
    quarter = (height // 2) * (width // 2)
    flat_out = out[height:].reshape(2, quarter)  # U then V, each (H/2 * W/2)
    flat_new = changed[height:].reshape(2, quarter)
    mask = chroma_touched.reshape(quarter)
    flat_out[:, mask] = flat_new[:, mask]
    return out


Window = tuple[int, int, int, int]


def plane_views(yuv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y ``(H, W)``, U and V ``(H/2, W/2)`` planes of I420 planes, as views."""
    height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
    quarter = (height // 2) * (width // 2)
    chroma = yuv[height:].reshape(-1)
    u = chroma[:quarter].reshape(height // 2, width // 2)
    v = chroma[quarter:].reshape(height // 2, width // 2)
    return yuv[:height], u, v


def even_size(width: int, height: int) -> tuple[int, int]:
    """The frame size a video of ``width`` x ``height`` is restored at: each odd side one pixel
    longer (4:2:0 video, H.264's and HEVC's included, cannot code an odd side)."""
    return width + width % 2, height + height % 2


def padded_planes(frame: av.VideoFrame) -> np.ndarray:
    """I420 planes of a ``yuv420p`` frame, an odd side padded to even (:func:`even_size`) by
    repeating the last luma column or row; the chroma planes, ``ceil(side / 2)`` samples long,
    already fit the padded size and are kept as decoded."""
    width, height = even_size(frame.width, frame.height)
    y, u, v = plane_arrays(frame)
    y = np.pad(y, ((0, height - frame.height), (0, width - frame.width)), mode="edge")
    return _pack(y, u, v)


def _pack(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """I420 planes ``(h * 3 / 2, w)`` from the three planes of a window."""
    h, w = y.shape
    out = np.empty((h * 3 // 2, w), np.uint8)
    flat = out.reshape(-1)
    flat[: h * w] = y.reshape(-1)
    flat[h * w : h * w + u.size] = u.reshape(-1)
    flat[h * w + u.size :] = v.reshape(-1)
    return out


def yuv_window_to_rgb(yuv: np.ndarray, window: Window) -> np.ndarray:
    """RGB pixels of ``window`` (``(x0, y0, x1, y1)``, even corners) of I420 planes: equal to
    ``yuv_to_rgb(yuv)[y0:y1, x0:x1]``."""
    x0, y0, x1, y1 = window
    y, u, v = plane_views(yuv)
    cy, cx = slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2)
    return yuv_to_rgb(_pack(y[y0:y1, x0:x1], u[cy, cx], v[cy, cx]))


def merge_window(yuv: np.ndarray, rgb: np.ndarray, touched: np.ndarray, window: Window) -> None:
    """:func:`merge_touched` on a window, in place: the samples of ``yuv`` whose pixels
    ``touched`` marks take :func:`rgb_to_yuv` of ``rgb`` (a chroma sample when any of its
    2 x 2 pixels was touched).

    Args:
        yuv: the frame's I420 planes, modified in place.
        rgb: ``(h, w, 3)`` RGB of the window.
        touched: ``(h, w)`` bool pixels to take.
        window: ``(x0, y0, x1, y1)`` with even corners.
    """
    x0, y0, x1, y1 = window
    h, w = y1 - y0, x1 - x0
    new = rgb_to_yuv(rgb).reshape(-1)
    y, u, v = plane_views(yuv)
    luma_mask = touched.view(np.uint8)
    rows = luma_mask[0::2] | luma_mask[1::2]
    chroma = np.ascontiguousarray(rows[:, 0::2] | rows[:, 1::2])  # any of each 2 x 2 block
    quarter = (h // 2) * (w // 2)
    cy, cx = slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2)
    # cv2.copyTo writes into the views in place (rows of a plane are contiguous)
    cv2.copyTo(new[: h * w].reshape(h, w), luma_mask, y[y0:y1, x0:x1])
    cv2.copyTo(new[h * w : h * w + quarter].reshape(h // 2, w // 2), chroma, u[cy, cx])
    cv2.copyTo(new[h * w + quarter :].reshape(h // 2, w // 2), chroma, v[cy, cx])


class FrameClock:
    """Presentation times of decoded frames, made increasing (ticks of the stream's time base).

    - The first timed frame keeps its pts, or starts at 0 when that is negative, or one period
      after the untimed frames before it (the frames after it move with it).
    - A frame without a pts comes one frame period after the previous one (the first at
      ``start``).
    - A pts at most two periods behind the previous (a repeated or jittered timestamp) becomes
      the previous plus one tick.
    - A pts further back (a timestamp jump, as in joined or broadcast streams) comes one period
      after the previous, and the frames after it keep that spacing: the jump is taken out.

    Args:
        period: one frame period in ticks (at least 1).
        start: the first frame's time when it has no pts.
    """

    def __init__(self, period: int, start: int = 0) -> None:
        self.period, self.start = max(1, period), max(0, start)
        self.offset: int | None = None
        self.last: int | None = None

    def stamp(self, pts: int | None) -> int:
        """The presentation time of the next frame, whose decoded pts is ``pts``."""
        last = self.last
        if pts is None:
            stamp = self.start if last is None else last + self.period
        else:
            if self.offset is None:  # the first timed frame: after any untimed ones
                floor = 0 if last is None else last + self.period
                self.offset = max(0, floor - pts)
            stamp = pts + self.offset
            if last is not None and stamp <= last:
                if last - stamp > 2 * self.period:
                    self.offset += last + self.period - stamp
                    stamp = last + self.period
                else:
                    stamp = last + 1
        self.last = stamp
        return stamp


#: Demuxer options of a second, longer look at a file whose audio track had no sample rate or
#: channels after FFmpeg's default probe (5 s, 5 MB): up to 60 s and 200 MB.
LONG_PROBE = {"analyzeduration": "60000000", "probesize": "200000000"}


class CarriedPacketError(RuntimeError):
    """A packet of an audio or subtitle stream could not be written (names the file and the
    stream); the run stops instead of ending the video there."""


def _hand_over(on_packet: Callable[[av.Packet], None], packet: av.Packet, path: Path) -> None:
    """``on_packet(packet)``; an FFmpeg error it raises (a muxer refusing the packet) becomes a
    :class:`CarriedPacketError`, which the demuxing loop does not take for the end of a
    damaged file."""
    try:
        on_packet(packet)
    except av.FFmpegError as err:
        stream = packet.stream
        raise CarriedPacketError(
            f"{path}: a packet of stream #{stream.index} ({stream.type}) at dts {packet.dts} "
            f"could not be written ({err})"
        ) from err


class VideoSource:
    """A video opened for streaming decode (a context manager).

    Attributes:
        path: the file.
        width, height: size of the frames it yields: the source's, an odd side one pixel longer
            (:func:`padded_planes`).
        rate: frame rate (``Fraction``).
        frame_count: frames announced by the container (0 when unknown).
        rotation: clockwise display rotation of the source (degrees).
        carried: every audio and subtitle stream, in the file's order (what an output carries).
        left_out: the other streams (cover art, further video, attachments, data) as
            ``#<index> <type> (<codec>)``.
        origin: seconds at which the source's video starts (0 when unknown): the restored video
            starts at 0 there, and every carried stream moves with it (``ffmpeg`` moves the
            earliest stream to 0 instead; sound before the first picture keeps its place
            before it here, hidden by an ``.mp4``'s edit list).
        time_base: the video stream's time base (seconds per tick of the presentation times
            :meth:`timed_frames` gives).
        identity: the file's tags and chapters (moved by ``origin``) and its video stream, for
            the output to keep (:class:`~mosaicflow.video.file_identity.SourceIdentity`).

    Raises:
        VideoDecodeError: the file cannot be opened or has no decodable video frame (names it).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        probe = probe_video(self.path)  # names the file on any error
        self.width, self.height = even_size(probe.width, probe.height)
        if (self.width, self.height) != (probe.width, probe.height):
            log.warning(
                "%s: odd frame size %dx%d, restored at %dx%d (the last column or row repeated): "
                "4:2:0 video needs even sides",
                self.path, probe.width, probe.height, self.width, self.height,
            )  # fmt: skip
        bits = max(component.bits for component in av.VideoFormat(probe.pix_fmt).components)
        if bits > 8:
            log.warning(
                "%s: %d bits per sample (%s), restored and encoded at 8 bits: smooth gradients "
                "may band (the colour description, HDR transfer included, is kept)",
                self.path, bits, probe.pix_fmt,
            )  # fmt: skip
        self._keep_size = SizeKeeper(self.path, (probe.width, probe.height))
        self.rotation = probe.rotation
        self.frame_count = probe.frame_count
        self._container = self._open()
        if any(without_parameters(stream) for stream in carried_streams(self._container)):
            # an audio track that starts late (a broadcast recording): read further to find
            # its sample rate and channels, else it would be left out
            self._container.close()
            self._container = self._open(LONG_PROBE)
        self._video = self._container.streams.video[0]
        self._video.thread_type = "AUTO"
        rate = self._video.average_rate or self._video.guessed_rate or Fraction(round(probe.fps))
        self.rate = Fraction(rate)
        self.carried = carried_streams(self._container)
        self.left_out = left_out_streams(self._container, self._video)
        for stream in self.left_out:
            log.warning("%s: stream %s is not carried (only the video restored, audio and "
                        "subtitles are)", path, stream)  # fmt: skip
        stream_start, time_base = self._video.start_time, self._video.time_base
        self.origin = float(stream_start * time_base) if stream_start and time_base else 0.0
        self.time_base = Fraction(time_base) if time_base else 1 / self.rate
        self.identity = source_identity(self._container, self._video, self.origin,
                                        interlaced=probe.interlaced)  # fmt: skip

    def _open(self, options: dict[str, str] | None = None) -> Any:
        try:
            return av.open(str(self.path), mode="r", metadata_errors="ignore", options=options)
        except av.FFmpegError as err:  # pragma: no cover - probe_video opened it already
            raise VideoDecodeError(f"{self.path}: cannot open as a video ({err})") from err

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._container.close()

    def frames(self, on_packet: Callable[[av.Packet], None] | None = None) -> Iterator[np.ndarray]:
        """Decode the video as I420 planes; hand every packet of the :attr:`carried` streams to
        ``on_packet`` on the way (see :meth:`timed_frames`)."""
        for _, planes in self.timed_frames(on_packet):
            yield planes

    def timed_frames(
        self, on_packet: Callable[[av.Packet], None] | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Decode the video as ``(pts, planes)``: I420 planes and their presentation time in
        ticks of :attr:`time_base`, made increasing by a :class:`FrameClock`. Every packet of the
        :attr:`carried` streams goes to ``on_packet`` on the way. The timestamps of every
        stream pass one :class:`~mosaicflow.video.packet_clock.JoinClock` first: a joined or
        broadcast recording whose timestamps restart (or, in a transport stream, jump ahead)
        comes out as one continuous timeline, starting at 0 where the source's video starts
        (:attr:`origin`).

        Packets that fail to decode are skipped (like the ``ffmpeg`` command).

        Raises:
            VideoDecodeError: no frame could be decoded at all.
        """
        clock = FrameClock(round(1 / (self.rate * self.time_base)))
        streams = [self._video, *self.carried]
        jumps = bool(self._container.format.flags & av.format.Flags.ts_discont.value)
        joins = JoinClock(shift=-self.origin, jumps=jumps)
        decoded = 0
        last_error = ""
        try:
            for demuxed in self._container.demux(*streams):
                sparse = demuxed.stream.type == "subtitle"
                for packet, _ in joins.fix(demuxed, demuxed.stream.index, sparse):
                    if packet.stream.type != "video":
                        if on_packet is not None and packet.dts is not None:
                            _hand_over(on_packet, packet, self.path)
                        continue
                    try:
                        frames = packet.decode()
                    except av.FFmpegError as err:
                        last_error = str(err)
                        log.debug("%s: packet %s failed to decode: %s", self.path, packet.pts, err)
                        continue
                    for frame in frames:
                        decoded += 1
                        yield clock.stamp(frame.pts), self._planes(frame, decoded - 1)
            for packet, _ in joins.flush():
                if on_packet is not None:
                    _hand_over(on_packet, packet, self.path)
        except av.FFmpegError as err:
            if decoded == 0:
                raise VideoDecodeError(f"{self.path}: cannot decode ({err})") from err
            log.warning("%s: demuxing stopped after %d frames: %s", self.path, decoded, err)
        if decoded == 0:
            raise VideoDecodeError(f"{self.path}: no decodable video frame {last_error}".strip())
        if joins.joins or joins.nudged:
            log.warning("%s: %d timestamp joins taken out (a joined or broadcast recording; "
                        "every stream moved together), %d repeated timestamps moved on",
                        self.path, joins.joins, sum(joins.nudged.values()))  # fmt: skip

    def _planes(self, frame: av.VideoFrame, number: int) -> np.ndarray:
        frame = self._keep_size(frame, number)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if frame.width % 2 or frame.height % 2:
            return padded_planes(frame)
        return frame.to_ndarray(format="yuv420p")


class VideoSink:
    """An encoded video, with the source's audio and subtitle streams, written atomically.

    Use as a context manager; the file appears at ``path`` only when the block ends without
    an error.

    Args:
        path: the output file (its suffix picks the container).
        width, height: frame size.
        rate: frame rate.
        streams: the source's audio and subtitle streams to carry
            (:attr:`VideoSource.carried`; each copied, or transcoded where the container cannot
            hold its codec, see :class:`~mosaicflow.video.streams.CarriedStreams`).
        encoder: the encoder and its options (default: the reproducible libx264 encode at
            CRF 18, preset medium).
        rotation: clockwise display rotation to record (the source's).
        first_pts: presentation time of the first frame in frame periods (keeps the audio in
            sync when the source's video starts late); only without ``time_base``.
        time_base: when given, :meth:`write` takes each frame's presentation time in ticks of
            it (a variable frame rate is kept); otherwise frames follow each other at ``rate``.
        identity: the source file's tags and chapters and its video stream's tags,
            disposition, colour, pixel aspect ratio and field order, to keep
            (:attr:`VideoSource.identity`); None: none.

    Raises:
        ValueError: both ``first_pts`` and ``time_base`` given.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        rate: Fraction,
        streams: Sequence[Any] = (),
        *,
        encoder: Encoder | None = None,
        rotation: int = 0,
        first_pts: int = 0,
        time_base: Fraction | None = None,
        identity: SourceIdentity | None = None,
    ) -> None:
        self.path = Path(path)
        self.identity = identity or SourceIdentity()
        self._fields: FieldMarks | None = None
        if first_pts and time_base is not None:
            raise ValueError("first_pts is for frames at a constant rate: with a time_base, "
                             "give each frame's pts to write()")  # fmt: skip
        if encoder is None:
            encoder = Encoder("libx264", x264_options(EncoderSettings(reproducible=True)))
        self.encoder = encoder
        self._settings = (width, height, rate, tuple(streams), rotation)
        self._stack = contextlib.ExitStack()
        self._container: Any = None
        self._video: Any = None
        self._carried: CarriedStreams | None = None
        self.frames_written = 0
        #: Carried streams' flags (forced, commentary...) the written file does not hold.
        self.lost_flags: list[str] = []
        self.first_pts = first_pts
        self.time_base = time_base if time_base is not None else 1 / Fraction(rate)
        self._timed = time_base is not None

    def __enter__(self) -> VideoSink:
        width, height, rate, streams, rotation = self._settings
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path))
            self._container = stack.enter_context(av.open(str(tmp), mode="w"))
            self._video = self._container.add_stream(self.encoder.codec, rate=rate)
            self._video.width, self._video.height = width, height
            self._video.pix_fmt = "yuv420p"
            self._video.codec_context.time_base = self.time_base
            self._video.options = dict(self.encoder.options)
            if rotation:
                self._video.set_display_rotation(-rotation)  # PyAV counts counter-clockwise
            self._keep_identity()
            self._carried = CarriedStreams(self._container, streams)
            self._stack = stack.pop_all()
        return self

    def _keep_identity(self) -> None:
        """The source's file tags, chapters and video stream tags, disposition and picture
        (colour, pixel aspect ratio, fields)."""
        identity = self.identity
        self._container.metadata.update(identity.tags)
        if identity.chapters:
            self._container.set_chapters([dict(chapter) for chapter in identity.chapters])
        if identity.video is None:
            return
        keep_identity(identity.video, self._video, self._container.format.name)
        keep_picture(identity.video, self._video)
        fields = interlacing(identity.video)
        height = self._settings[1]
        if fields and self.encoder.codec == "libx264" and height % 4:
            log.warning("%s: the source is interlaced, but x264 codes 4:2:0 fields only at a "
                        "height divisible by 4 (not %d): coded as progressive frames",
                        self.path, height)  # fmt: skip
        elif fields and self.encoder.codec == "libx264":
            options = dict(self._video.options)
            given = options.get("x264-params")
            options["x264-params"] = f"{given}:{fields}=1" if given else f"{fields}=1"
            self._video.options = options
            self._video.codec_context.field_order = identity.video.codec_context.field_order
            width, height = self._settings[:2]
            self._fields = FieldMarks(width, height, self.time_base, fields)
        elif fields:
            log.warning("%s: the source is interlaced; %s codes it as progressive frames "
                        "(libx264 keeps the fields)", self.path, self.encoder.codec)  # fmt: skip
        elif identity.interlaced:
            log.warning("%s: the source's frames are interlaced but its stream states no field "
                        "order: coded as progressive frames", self.path)  # fmt: skip

    def write(self, yuv: np.ndarray, pts: int | None = None) -> None:
        """Encode one frame of I420 planes, at ``pts`` (ticks of ``time_base``, increasing) when
        the sink was given a time base."""
        if self._timed != (pts is not None):
            raise ValueError("a frame's pts is given exactly when the sink has a time_base")
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts if pts is not None else self.first_pts + self.frames_written
        frame.time_base = self.time_base
        if self._fields is not None:
            frame = self._fields(frame)
        self._container.mux(self._video.encode(frame))
        self.frames_written += 1

    def write_packet(self, packet: av.Packet) -> None:
        """Copy (or transcode) one packet of a carried source stream."""
        if self._carried is not None:
            self._carried.write(packet)

    @property
    def audio_packets(self) -> int:
        """Source audio packets written (copied or transcoded), all audio tracks together."""
        return self._carried.audio_packets if self._carried is not None else 0

    @property
    def audio(self) -> str | None:
        """How each audio track is written: ``copy (<codec>)`` or ``aac from <codec>``, joined
        by commas; None without audio."""
        return self._carried.audio if self._carried is not None else None

    @property
    def subtitles(self) -> str | None:
        """How each subtitle track is written: ``copy (<codec>)`` or ``<codec> from <codec>``,
        joined by commas; None without subtitles."""
        return self._carried.subtitles if self._carried is not None else None

    @property
    def dropped(self) -> list[str]:
        """The carried streams the container cannot hold in any form (left out)."""
        return list(self._carried.dropped) if self._carried is not None else []

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                if self._carried is not None:
                    self._carried.close()
                self._container.mux(self._video.encode(None))
            except BaseException:  # a failed flush publishes nothing either
                self._stack.__exit__(*sys.exc_info())
                raise
        self._stack.__exit__(exc_type, exc, tb)  # type: ignore[arg-type]
        if exc_type is None and self._carried is not None and self._carried.flags:
            self.lost_flags = lost_flags(self.path, self._carried.flags)
