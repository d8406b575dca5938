"""Clip and mask video files, and the source frames a clip is cut from.

Clips are near-lossless RGB H.264 (``libx264rgb``, CRF <= 15, .mp4) or lossless FFV1 (.mkv);
masks are FFV1 ``gray`` 0/255 (.mkv). Encoders run on one thread with FFmpeg's bitexact flags
and the reproducible x264 options of :mod:`mosaicflow.video.x264`, so equal frames give equal
bytes. Files are written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mosaicflow.io import atomic_path
from mosaicflow.video.decode import SizeKeeper, VideoDecodeError, rotate_array
from mosaicflow.video.x264 import reproducible_x264_options

_BITEXACT = {"fflags": "+bitexact"}
#: FFmpeg error detection that turns concealed decoding errors into failures.
STRICT_ERR_DETECT = "crccheck+bitstream+buffer+explode"


def clip_suffix(codec: str) -> str:
    """File suffix of a clip video for ``codec`` (``x264`` -> .mp4, ``ffv1`` -> .mkv)."""
    return {"x264": ".mp4", "ffv1": ".mkv"}[codec]


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def _write(
    path: Path,
    frames: np.ndarray,
    fps: float,
    codec: str,
    options: dict[str, str],
    pix_fmt: str,
    in_fmt: str,
) -> None:
    height, width = frames.shape[1:3]
    with atomic_path(path) as tmp, av.open(str(tmp), "w", container_options=_BITEXACT) as out:
        stream = out.add_stream(codec, rate=_rate(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.thread_count = 1
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        stream.options = options
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=in_fmt)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def write_clip_video(path: Path, frames: np.ndarray, fps: float, codec: str, crf: int) -> None:
    """Write RGB frames ``(T, H, W, 3)`` uint8 as a clip video, atomically.

    Args:
        path: the .mp4 (x264) or .mkv (ffv1).
        frames: the clip.
        fps: frame rate.
        codec: ``x264`` or ``ffv1``.
        crf: x264 constant rate factor (ignored by ffv1).
    """
    if codec == "x264":
        options = reproducible_x264_options(crf=str(int(crf)), preset="veryfast")
        _write(Path(path), frames, fps, "libx264rgb", options, "rgb24", "rgb24")
    elif codec == "ffv1":
        _write(Path(path), frames, fps, "ffv1", {}, "bgr0", "rgb24")
    else:
        raise ValueError(f"unknown clip codec {codec!r}")


def write_preview_video(path: Path, frames: np.ndarray, fps: float) -> None:
    """Write RGB frames ``(T, H, W, 3)`` uint8 as an H.264 4:2:0 .mp4 that browsers play (the
    clips' own RGB H.264 is not), padded to even sides, atomically."""
    height, width = frames.shape[1:3]
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    frames = np.pad(frames, pad, mode="edge") if any(p[1] for p in pad) else frames
    options = reproducible_x264_options(crf="20", preset="veryfast")
    _write(Path(path), frames, fps, "libx264", options, "yuv420p", "rgb24")


def write_mask_video(path: Path, masks: np.ndarray, fps: float) -> None:
    """Write 0/255 masks ``(T, H, W)`` uint8 as a lossless FFV1 gray video, atomically."""
    _write(Path(path), masks, fps, "ffv1", {}, "gray", "gray")


def read_video(
    path: str | Path,
    start: int = 0,
    count: int | None = None,
    fmt: str = "rgb24",
    data: bytes | None = None,
) -> np.ndarray:
    """Frames ``start .. start+count`` of a clip or mask video as one array.

    Args:
        path: the video (with ``data``: the name its errors give).
        start: first frame.
        count: frames to read (``None``: to the end).
        fmt: ``rgb24`` (``(T, H, W, 3)``) or ``gray`` (``(T, H, W)``).
        data: the video's bytes (a shard member), read instead of the file.

    Raises:
        VideoDecodeError: naming the file when it cannot be decoded or is too short.
    """
    path = Path(path)
    out: list[np.ndarray] = []
    try:
        source = io.BytesIO(data) if data is not None else str(path)
        with av.open(source) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for i, frame in enumerate(container.decode(stream)):
                if i >= start:
                    out.append(frame.to_ndarray(format=fmt))
                if count is not None and len(out) == count:
                    break
    except (av.FFmpegError, IndexError) as err:
        raise VideoDecodeError(f"{path}: cannot decode ({err})") from err
    if (count is not None and len(out) < count) or not out:
        raise VideoDecodeError(
            f"{path}: frames {start}..{start + (count or 1) - 1} requested, "
            f"only {start + len(out)} decoded"
        )
    return np.stack(out)


def source_frames(
    video: Path, wanted: Mapping[int, int | None], rotation: int, threads: int = 1
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the wanted frames of a source video as RGB, strictly, checking them against the index.

    Frames are numbered like the frames stage numbers them (decoded frames in presentation
    order). The decoder runs with FFmpeg's strict error detection: a corrupt packet, or a frame
    whose pts differs from the one the frames index recorded, stops with an error (the frame
    numbers would no longer match the index and the region table).

    Args:
        video: the source video.
        wanted: frame number -> the pts the frames index recorded (``None``: not checked).
        rotation: clockwise display rotation (the probe's) applied to the frames.
        threads: decoder threads.

    Yields:
        ``(frame number, (H, W, 3) uint8)`` in increasing order.

    Raises:
        VideoDecodeError: naming the file and the frame.
    """
    video = Path(video)
    todo = sorted(wanted)
    if not todo:
        return
    position = 0
    number = -1
    try:
        container = av.open(str(video), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, FileNotFoundError) as err:
        raise VideoDecodeError(f"{video}: cannot open as a video ({err})") from err
    with container:
        if not container.streams.video:
            raise VideoDecodeError(f"{video}: no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "AUTO"
        ctx.thread_count = max(0, int(threads))
        ctx.options = {"err_detect": STRICT_ERR_DETECT}
        packets = container.demux(stream)
        keep_size = SizeKeeper(video)  # frames of another size scaled as the frames stage does
        while True:
            try:
                packet = next(packets, None)
                frames = packet.decode() if packet is not None else []
            except av.FFmpegError as err:
                raise VideoDecodeError(
                    f"{video}: corrupt data after frame {number} ({err}); the video is damaged"
                ) from err
            if packet is None:
                break
            for frame in frames:
                number += 1
                resized = keep_size.note(frame, number)
                if number != todo[position]:
                    continue
                if resized:
                    frame = keep_size.scale(frame)
                expected = wanted[number]
                if expected is not None and frame.pts is not None and frame.pts != expected:
                    raise VideoDecodeError(
                        f"{video}: frame {number} has pts {frame.pts} but the frames index says "
                        f"{expected}: the video does not match its index (changed or corrupt)"
                    )
                try:
                    rgb = frame.to_ndarray(format="rgb24")
                except (av.FFmpegError, ValueError) as err:
                    raise VideoDecodeError(
                        f"{video}: frame {number}: cannot convert ({err})"
                    ) from err
                if rotation:
                    rgb = np.ascontiguousarray(rotate_array(rgb, rotation))
                yield number, rgb
                position += 1
                if position == len(todo):
                    return
    raise VideoDecodeError(
        f"{video}: frame {todo[position]} requested but the video has {number + 1} frames"
    )
