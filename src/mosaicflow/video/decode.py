"""Probing and streaming decoding of real-world videos with PyAV.

Frames are decoded one at a time (threaded decoding inside FFmpeg) and never gathered, so memory
stays flat whatever the length of the video. Two views of a frame are offered:

- :func:`iter_planes`: the raw planes (Y, U, V[, A]) as zero-copy ``uint8`` numpy views, in a pixel
  format FFmpeg's ``mpdecimate`` accepts; other formats (10-bit, RGB, gray, NV12...) are converted
  with the same format negotiation and swscale flags the ``ffmpeg`` command uses, so near-duplicate
  dropping sees what ``ffmpeg -vf mpdecimate`` sees. Rotation metadata is applied like ffmpeg's
  autorotate.
- :func:`iter_frames`: RGB (or any PyAV format) arrays of chosen frame numbers, rotated, for the
  later stages that decode again from the frame index.

Frame numbers count decoded frames in presentation order from 0; both views number them the same
way (packets that fail to decode are skipped by both, like the ``ffmpeg`` command does).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

LOG = logging.getLogger(__name__)

#: Pixel formats FFmpeg's mpdecimate accepts (libavfilter/vf_mpdecimate.c), in its order.
MPDECIMATE_PIX_FMTS = (
    "yuv444p",
    "yuv422p",
    "yuv420p",
    "yuv411p",
    "yuv410p",
    "yuv440p",
    "yuvj444p",
    "yuvj422p",
    "yuvj420p",
    "yuvj440p",
    "yuva420p",
    "gbrp",
    "yuva444p",
    "yuva422p",
)

#: Version of the probe.json layout.
PROBE_VERSION = 1


class VideoDecodeError(ValueError):
    """A video that cannot be opened or decoded; the message names the file."""


@dataclass(frozen=True)
class VideoProbe:
    """What the container says about a video (before decoding every frame).

    Attributes:
        path: the file.
        codec: decoder name (``h264``, ``mpeg4``, ``cinepak``...).
        pix_fmt: the decoder's pixel format (``yuv420p10le``...).
        width, height: coded size (before rotation).
        display_width, display_height: size after rotation.
        rotation: clockwise degrees (0, 90, 180, 270) the frames are turned for display.
        fps: average frame rate (guessed when the container has none).
        time_base: the stream time base as ``"num/den"``.
        duration: seconds (container or stream; ``None`` when unknown).
        frame_count: frames the container announces (0 when unknown).
        has_audio: whether the file has an audio stream.
        interlaced: the first frame is interlaced (two fields of different moments).
        pixel_aspect: the pixel aspect ratio as ``"num:den"`` (``"1:1"``: square or unknown;
            ``"32:27"``: a 16:9 PAL DVD stored at 720x576).
    """

    path: str
    codec: str
    pix_fmt: str
    width: int
    height: int
    display_width: int
    display_height: int
    rotation: int
    fps: float
    time_base: str
    duration: float | None
    frame_count: int
    has_audio: bool
    interlaced: bool = False
    pixel_aspect: str = "1:1"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class DecodeStats:
    """Counters filled while decoding (packets that failed, the last error)."""

    errors: int = 0
    last_error: str = ""


def _open(path: Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: an empty file (0 bytes), not a video")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise VideoDecodeError(f"{path}: cannot open as a video ({err})") from err


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    if not container.streams.video:
        raise VideoDecodeError(f"{path}: no video stream")
    return container.streams.video[0]


def _rotation_from_degrees(degrees: float | int | None) -> int:
    """Clockwise display rotation in {0, 90, 180, 270} from PyAV's (counter-clockwise) angle."""
    if degrees is None or (isinstance(degrees, float) and math.isnan(degrees)):
        return 0
    clockwise = (-round(float(degrees))) % 360
    nearest = round(clockwise / 90.0) * 90 % 360
    return nearest


def _stream_rotation(stream: av.video.VideoStream) -> int:
    """Clockwise rotation from an old-style ``rotate`` stream tag (0 when absent)."""
    try:
        return round(float(stream.metadata.get("rotate", 0))) % 360
    except (ValueError, TypeError):
        return 0


def frame_rate(fps: float) -> Fraction:
    """A frame rate as the fraction a video stream takes (12.0 -> 12; an NTSC rate as read from
    a file, 29.97002997..., -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


def _fps(stream: av.video.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if math.isfinite(value) and 0 < value < 10_000:
                return value
    return 25.0


def probe_video(path: str | Path) -> VideoProbe:
    """Read a video's container metadata and decode its first frame (for rotation and format).

    Args:
        path: the video file.

    Returns:
        A :class:`VideoProbe`.

    Raises:
        VideoDecodeError: the file cannot be opened, has no video stream or no decodable frame.
    """
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        stats = DecodeStats()
        first = next(_decode(container, stream, path, stats), None)
        if first is None:
            detail = f": {stats.last_error}" if stats.last_error else ""
            raise VideoDecodeError(f"{path}: no decodable video frame{detail}")
        rotation = _rotation_from_degrees(first.rotation) or _stream_rotation(stream)
        duration = None
        if container.duration is not None and container.duration > 0:
            duration = container.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        turned = rotation in (90, 270)
        return VideoProbe(
            path=str(path),
            codec=stream.codec_context.name,
            pix_fmt=first.format.name,
            width=first.width,
            height=first.height,
            display_width=first.height if turned else first.width,
            display_height=first.width if turned else first.height,
            rotation=rotation,
            fps=_fps(stream),
            time_base=str(stream.time_base or Fraction(1, 1)),
            duration=duration,
            frame_count=int(stream.frames or 0),
            has_audio=bool(container.streams.audio),
            interlaced=bool(first.interlaced_frame),
            pixel_aspect=_pixel_aspect(stream),
        )


def _pixel_aspect(stream: av.video.VideoStream) -> str:
    """The stream's pixel aspect ratio as ``"num:den"`` (``"1:1"`` when unknown)."""
    aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    return f"{aspect.numerator}:{aspect.denominator}" if aspect else "1:1"


class SizeKeeper:
    """Keeps a stream's frames at the size of its first frame: a frame of another size (a
    joined or broadcast recording whose picture size changes mid-way) is scaled to it
    (bicubic), as ffmpeg's auto-inserted scaler does, and each new size is logged once.

    Args:
        path: the video (named in the log).
        size: the first frame's width and height when known (the probe's); else the first
            frame noted sets it.
    """

    def __init__(self, path: Path, size: tuple[int, int] | None = None) -> None:
        self.path = path
        self.size = size
        #: The other sizes met so far, in order.
        self.changes: list[tuple[int, int]] = []

    def __call__(self, frame: av.VideoFrame, number: int) -> av.VideoFrame:
        """``frame`` (decoded frame ``number``, from 0) at the first frame's size."""
        return self.scale(frame) if self.note(frame, number) else frame

    def note(self, frame: av.VideoFrame, number: int) -> bool:
        """Whether ``frame`` (decoded frame ``number``) differs in size from the first frame;
        a new size is logged."""
        size = (frame.width, frame.height)
        if self.size is None:
            self.size = size
        if size == self.size:
            return False
        if size not in self.changes:
            self.changes.append(size)
            LOG.warning(
                "%s: the picture changes to %dx%d at frame %d (a joined or broadcast "
                "recording); such frames are scaled to the first frame's %dx%d, as ffmpeg does",
                self.path, *size, number, *self.size,
            )  # fmt: skip
        return True

    def scale(self, frame: av.VideoFrame) -> av.VideoFrame:
        """``frame`` scaled to the first frame's size."""
        assert self.size is not None, "note() a frame first"
        width, height = self.size
        return frame.reformat(width=width, height=height, interpolation="BICUBIC")


def _decode(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    path: Path,
    stats: DecodeStats,
) -> Iterator[av.VideoFrame]:
    """Yield decoded frames in presentation order, skipping packets that fail to decode (at
    their decoded size: the readers keep one size with a :class:`SizeKeeper`)."""
    decoded = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.FFmpegError as err:
                stats.errors += 1
                stats.last_error = str(err)
                LOG.debug("%s: packet %s failed to decode: %s", path, packet.pts, err)
                continue
            for frame in frames:
                decoded += 1
                yield frame
    except av.FFmpegError as err:
        # A broken container: keep what was decoded, fail only if nothing was.
        stats.errors += 1
        stats.last_error = str(err)
        if decoded == 0:
            raise VideoDecodeError(f"{path}: cannot decode ({err})") from err
        LOG.warning("%s: demuxing stopped after %d frames: %s", path, decoded, err)


def _configure_threads(stream: av.video.VideoStream, threads: int) -> None:
    ctx = stream.codec_context
    ctx.thread_type = "AUTO"
    ctx.thread_count = max(0, int(threads))


class _Converter:
    """Convert frames to an mpdecimate pixel format like ffmpeg's auto-inserted scaler."""

    def __init__(self) -> None:
        self._graph: av.filter.Graph | None = None
        self._key: tuple[str, int, int] | None = None

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if frame.format.name in MPDECIMATE_PIX_FMTS:
            return frame
        key = (frame.format.name, frame.width, frame.height)
        if self._graph is None or key != self._key:
            graph = av.filter.Graph()
            src = graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format.name,
                time_base=frame.time_base or Fraction(1, 25),
            )
            scale = graph.add("scale", "flags=bicubic")
            fmt = graph.add("format", "pix_fmts=" + "|".join(MPDECIMATE_PIX_FMTS))
            sink = graph.add("buffersink")
            src.link_to(scale)
            scale.link_to(fmt)
            fmt.link_to(sink)
            graph.configure()
            self._graph, self._key = graph, key
        self._graph.push(frame)
        return self._graph.pull()


def plane_arrays(frame: av.VideoFrame) -> tuple[np.ndarray, ...]:
    """Zero-copy 2-D ``uint8`` views of an 8-bit planar frame's planes (Y, U, V[, A])."""
    arrays = []
    for plane in frame.planes:
        buf = np.frombuffer(plane, dtype=np.uint8)
        arr = buf[: plane.line_size * plane.height].reshape(plane.height, plane.line_size)
        arrays.append(arr[:, : plane.width])
    return tuple(arrays)


def rotate_array(array: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an image (H, W[, C]) clockwise by ``rotation`` degrees (a view, no copy)."""
    k = {0: 0, 90: 3, 180: 2, 270: 1}[rotation % 360]
    return np.rot90(array, k=k) if k else array


@dataclass
class PlaneFrame:
    """One decoded frame as planes.

    Attributes:
        number: frame number (decode order = presentation order, from 0).
        pts: presentation timestamp in ``time_base`` units (``None`` when the file has none).
        time: seconds from the start of the stream (monotonic, extrapolated when pts is broken).
        planes: 8-bit planes in ``pix_fmt``, rotated for display.
        pix_fmt: the planes' pixel format (one of :data:`MPDECIMATE_PIX_FMTS`).
        frame: the (converted) PyAV frame that owns the plane memory.
    """

    number: int
    pts: int | None
    time: float
    planes: tuple[np.ndarray, ...]
    pix_fmt: str
    frame: av.VideoFrame


class _Clock:
    """Monotonic frame times from pts, falling back to dts and then to the frame rate."""

    def __init__(self, time_base: Fraction | None, fps: float) -> None:
        self.time_base = time_base
        self.step = 1.0 / fps
        self.start: float | None = None
        self.last: float | None = None

    def __call__(self, frame: av.VideoFrame) -> tuple[int | None, float]:
        stamp = frame.pts if frame.pts is not None else frame.dts
        t: float | None = None
        if stamp is not None and self.time_base:
            t = float(stamp * self.time_base)
        if self.start is None:
            self.start = t if t is not None else 0.0
        rel = None if t is None else t - self.start
        if rel is None or (self.last is not None and rel <= self.last):
            rel = 0.0 if self.last is None else self.last + self.step
        self.last = rel
        return frame.pts, rel


def iter_planes(
    path: str | Path,
    threads: int = 0,
    stats: DecodeStats | None = None,
    rotate: bool = True,
) -> Iterator[PlaneFrame]:
    """Stream a video's frames as 8-bit planes in an mpdecimate pixel format.

    Args:
        path: the video.
        threads: decoder threads (0 = FFmpeg's choice).
        stats: filled with decode-error counters.
        rotate: apply the rotation metadata to the planes (as ffmpeg's autorotate does).

    Yields:
        :class:`PlaneFrame` objects; their arrays stay valid while the object is referenced.

    Raises:
        VideoDecodeError: the file cannot be opened or decoded at all.
    """
    path = Path(path)
    stats = stats if stats is not None else DecodeStats()
    with _open(path) as container:
        stream = _video_stream(container, path)
        _configure_threads(stream, threads)
        clock = _Clock(stream.time_base, _fps(stream))
        convert = _Converter()
        keep_size = SizeKeeper(path)
        rotation: int | None = None
        try:
            for number, frame in enumerate(_decode(container, stream, path, stats)):
                frame = keep_size(frame, number)
                if rotation is None:
                    rotation = _rotation_from_degrees(frame.rotation) or _stream_rotation(stream)
                pts, t = clock(frame)
                converted = convert(frame)
                planes = plane_arrays(converted)
                if rotate and rotation:
                    planes = tuple(rotate_array(p, rotation) for p in planes)
                yield PlaneFrame(number, pts, t, planes, converted.format.name, converted)
        except av.FFmpegError as err:
            raise VideoDecodeError(f"{path}: cannot convert decoded frames ({err})") from err


def iter_frames(
    video: str | Path,
    frame_numbers: Iterable[int] | None = None,
    fmt: str = "rgb24",
    threads: int = 0,
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode chosen frames of a video as arrays, rotated for display.

    Later stages use it with the ``frame`` column of ``index.parquet`` (kept frames); frame
    numbers count decoded frames exactly as :func:`iter_planes` (and so the index) does.

    Args:
        video: the video file.
        frame_numbers: frame numbers to return (any order, duplicates ignored); ``None`` = all.
        fmt: a PyAV ``to_ndarray`` format (``rgb24``, ``bgr24``, ``gray``...).
        threads: decoder threads (0 = FFmpeg's choice).

    Yields:
        ``(frame_number, array)`` in increasing frame order; decoding stops after the last one.

    Raises:
        VideoDecodeError: undecodable file, or requested frame numbers beyond its end.
    """
    path = Path(video)
    wanted = None if frame_numbers is None else sorted({int(n) for n in frame_numbers})
    if wanted is not None and not wanted:
        return
    if wanted is not None and wanted[0] < 0:
        raise VideoDecodeError(f"{path}: negative frame number {wanted[0]}")
    position = 0
    last = -1
    stats = DecodeStats()
    with _open(path) as container:
        stream = _video_stream(container, path)
        _configure_threads(stream, threads)
        keep_size = SizeKeeper(path)
        rotation: int | None = None
        for number, frame in enumerate(_decode(container, stream, path, stats)):
            last = number
            resized = keep_size.note(frame, number)
            if rotation is None:
                rotation = _rotation_from_degrees(frame.rotation) or _stream_rotation(stream)
            if wanted is not None:
                if number != wanted[position]:
                    continue
                position += 1
            try:
                if resized:
                    frame = keep_size.scale(frame)
                array = frame.to_ndarray(format=fmt)
            except (av.FFmpegError, ValueError) as err:
                raise VideoDecodeError(f"{path}: frame {number}: cannot convert ({err})") from err
            if rotation:
                array = np.ascontiguousarray(rotate_array(array, rotation))
            yield number, array
            if wanted is not None and position == len(wanted):
                return
    if wanted is not None and position < len(wanted):
        raise VideoDecodeError(
            f"{path}: frame {wanted[position]} requested but the video has {last + 1} frames"
        )
