"""The video encoder of a restored video: chosen for the job, with its FFmpeg options.

- ``libx264`` (the default on the CPU): x264 on every core, its default rate control
  (macroblock-tree on);
- ``libx264`` with ``reproducible``: one thread and mbtree off
  (:data:`~mosaicflow.video.x264.REPRODUCIBLE_X264_OPTIONS`), the same bytes on every run; the
  workflow's evaluation encodes this way;
- ``h264_nvenc`` / ``hevc_nvenc``: NVIDIA's hardware encoders (in PyAV's wheel), used by
  ``auto`` when the restorer runs on CUDA and the GPU opens them; otherwise ``auto`` falls back
  to libx264 and logs why.

The x264 settings (CRF, preset) map onto NVENC's constant-quality mode (``cq``) and its
``p1``-``p7`` presets.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction

from mosaicflow.video.x264 import reproducible_x264_options

log = logging.getLogger(__name__)

#: Encoders ``codec`` may name (``auto`` picks one).
CODECS = ("auto", "libx264", "h264_nvenc", "hevc_nvenc")
NVENC_CODECS = ("h264_nvenc", "hevc_nvenc")
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)  # fmt: skip
#: NVENC's preset of each x264 preset (p1 fastest ... p7 best).
NVENC_PRESETS = {
    "ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p3",
    "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7",
}  # fmt: skip


class EncoderError(ValueError):
    """An encoder that was asked for by name but cannot be used here."""


@dataclass(frozen=True)
class EncoderSettings:
    """What the output should be encoded with.

    Attributes:
        codec: one of :data:`CODECS`.
        crf: x264 constant rate factor, 0-51 (0 = lossless); NVENC's ``cq`` (0: lossless).
        preset: x264 preset (NVENC: the matching ``p1``-``p7``).
        threads: x264 threads (0: one per CPU core this process may use).
        reproducible: single-thread libx264 with mbtree off: byte-identical output on every run.
    """

    codec: str = "auto"
    crf: int = 18
    preset: str = "medium"
    threads: int = 0
    reproducible: bool = False

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise EncoderError(f"unknown codec {self.codec!r} (one of {', '.join(CODECS)})")
        if not 0 <= self.crf <= 51:
            raise EncoderError(f"crf must be in 0..51, got {self.crf}")
        if self.preset not in X264_PRESETS:
            raise EncoderError(f"unknown preset {self.preset!r} (one of {', '.join(X264_PRESETS)})")
        if self.threads < 0:
            raise EncoderError(f"threads must be >= 0, got {self.threads}")
        if self.reproducible and self.codec in NVENC_CODECS:
            raise EncoderError(f"{self.codec} is not reproducible: use libx264 with reproducible")


@dataclass(frozen=True)
class Encoder:
    """A resolved encoder: the FFmpeg encoder's name and its options.

    Attributes:
        codec: FFmpeg encoder name.
        options: its private options (``stream.options``).
        reason: why it was chosen (for the log and the run's summary).
    """

    codec: str
    options: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def x264_options(settings: EncoderSettings) -> dict[str, str]:
    """libx264's options for ``settings`` (reproducible: one thread, mbtree off)."""
    options = {"crf": str(settings.crf), "preset": settings.preset}
    if settings.reproducible:
        return reproducible_x264_options(**options)
    return options | {"threads": str(settings.threads or cpu_cores())}


def nvenc_options(settings: EncoderSettings, gpu: int | None = None) -> dict[str, str]:
    """NVENC's options for ``settings``: constant quality ``cq`` = CRF (0: lossless), on the
    NVIDIA GPU numbered ``gpu`` (``None``: the driver's choice)."""
    preset = NVENC_PRESETS[settings.preset]
    where = {} if gpu is None else {"gpu": str(gpu)}
    if settings.crf == 0:
        return {"preset": preset, "tune": "lossless"} | where
    return {"preset": preset, "tune": "hq", "rc": "vbr", "cq": str(settings.crf), "b": "0"} | where


def codec_opens(
    codec: str, size: tuple[int, int] = (256, 256), options: dict[str, str] | None = None
) -> str | None:
    """``None`` when FFmpeg opens encoder ``codec`` here for frames of ``size`` (width,
    height) with ``options``, else why not: an NVENC encoder fails without an NVIDIA GPU and
    driver, and on frames NVENC cannot take (under 145 px a side, H.264 over 4096 px)."""
    import av

    try:
        context = av.CodecContext.create(codec, "w")
        context.width, context.height = size
        context.pix_fmt = "yuv420p"
        context.time_base = Fraction(1, 25)
        context.options = dict(options or {})
        context.open()
    except (av.FFmpegError, ValueError, OSError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def choose_encoder(
    settings: EncoderSettings,
    *,
    gpu: bool,
    size: tuple[int, int] = (256, 256),
    gpu_index: int | None = None,
) -> Encoder:
    """The encoder for ``settings``.

    Args:
        settings: codec, quality, threads, reproducibility.
        gpu: the restore runs on a CUDA device (``auto`` then tries NVENC first).
        size: the video's frame size (width, height): NVENC is tried at that size.
        gpu_index: the CUDA device the restore runs on (NVENC encodes on that GPU).

    Returns:
        The :class:`Encoder`.

    Raises:
        EncoderError: an NVENC encoder was asked for by name and cannot be opened here.
    """
    codec = settings.codec
    if codec in NVENC_CODECS:
        options = nvenc_options(settings, gpu_index)
        why = codec_opens(codec, size, options)
        if why is not None:
            raise EncoderError(f"{codec} cannot be opened here for {size[0]}x{size[1]} frames "
                               f"({why}); use --codec libx264")  # fmt: skip
        return Encoder(codec, options, "asked for")
    if codec == "auto" and gpu and not settings.reproducible:
        options = nvenc_options(settings, gpu_index)
        why = codec_opens("h264_nvenc", size, options)
        if why is None:
            return Encoder("h264_nvenc", options, "auto: the GPU offers NVENC")
        log.info("h264_nvenc is not available (%s): encoding with libx264", why)
        reason = "auto: NVENC not available"
    elif codec == "auto":
        reason = "auto: reproducible" if settings.reproducible else "auto: no GPU"
    else:
        reason = "asked for"
    return Encoder("libx264", x264_options(settings), reason)
