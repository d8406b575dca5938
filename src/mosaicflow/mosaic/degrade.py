"""Degradations after the mosaic: blur, noise, JPEG (or the second-order pipeline) and codec
round trips through PyAV.

Everything is drawn once per clip (or image) from the given generator, so all frames of a clip
share one blur sigma, one JPEG quality and one codec pass, as a re-encoded video would. The
codec round trip encodes the whole clip in memory and feeds the packets straight to a decoder
(no container), one thread each, with explicit timestamps and OpenCV's YUV conversion, so the
same input and seed give the same bytes for x264 (mbtree off, see ``_encoder_options``), VP9
and MPEG-2. libx265 is the exception: its output varies between identical calls.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np

from mosaicflow.mosaic.config import (
    CODECS,
    BitrateCodecConfig,
    CrfCodecConfig,
    DegradationsConfig,
)
from mosaicflow.mosaic.pixel_ops import add_noise, gaussian_blur, jpeg_roundtrip
from mosaicflow.mosaic.second_order import apply_plan, draw_plan
from mosaicflow.mosaic.synth import MosaicParams, apply_mosaic
from mosaicflow.video.x264 import reproducible_x264_options

_ENCODERS = {"x264": "libx264", "x265": "libx265", "vp9": "libvpx-vp9", "mpeg2": "mpeg2video"}
_DECODERS = {"x264": "h264", "x265": "hevc", "vp9": "vp9", "mpeg2": "mpeg2video"}


def degrade(
    frames: np.ndarray, cfg: DegradationsConfig, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply random degradations to a clip ``(T, H, W, 3)`` or an image ``(H, W, 3)``.

    Order: blur -> noise -> JPEG -> at most one codec round trip. Each step happens with its
    probability; its parameters are drawn once for the whole clip. With probability
    ``cfg.second_order.p`` the second-order pipeline (:mod:`.second_order`) replaces blur,
    noise and JPEG.

    Args:
        frames: uint8 RGB frames (not modified).
        cfg: ``mosaic.degradations`` of the config.
        rng: the clip's generator.

    Returns:
        ``(frames, applied)``: degraded frames of the input shape, and a JSON-compatible dict of
        what was applied with its parameters (empty when nothing was).

    Raises:
        ValueError: for frames that are not uint8 RGB.
    """
    single = frames.ndim == 3
    clip = frames[None] if single else frames
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
        raise ValueError(
            f"frames must be uint8 (T, H, W, 3) or (H, W, 3), got {frames.dtype} {frames.shape}"
        )
    applied: dict[str, Any] = {}
    # Draw every decision first, in a fixed order, so each one is independent of the others.
    do_blur, sigma = rng.random() < cfg.blur.p, float(rng.uniform(*cfg.blur.sigma))
    do_noise, noise = rng.random() < cfg.noise.p, float(rng.uniform(*cfg.noise.sigma))
    do_jpeg = rng.random() < cfg.jpeg.p
    quality = int(rng.integers(cfg.jpeg.quality[0], cfg.jpeg.quality[1] + 1))
    codec = _choose_codec(cfg, rng)
    noise_seed = int(rng.integers(2**63))
    second_order = None
    if cfg.second_order.p > 0:  # no draw when off: the same bytes as without the family
        use = rng.random() < cfg.second_order.p
        plan = draw_plan(cfg.second_order, rng)
        second_order = plan if use else None
    out = clip
    if second_order is not None:
        out = apply_plan(out, second_order)
        applied["second_order"] = second_order
        do_blur = do_noise = do_jpeg = False
    if do_blur and sigma > 0:
        out = gaussian_blur(out, sigma)
        applied["blur"] = {"sigma": round(sigma, 4)}
    if do_noise and noise > 0:
        out = add_noise(out, noise, np.random.default_rng(noise_seed))
        applied["noise"] = {"sigma": round(noise, 4)}
    if do_jpeg:
        out = jpeg_roundtrip(out, quality)
        applied["jpeg"] = {"quality": quality}
    if codec is not None:
        name, setting = codec
        kwargs: dict[str, Any] = dict(setting)
        out = codec_roundtrip(out, name, fps=cfg.fps, **kwargs)
        applied["codec"] = {"name": name, **setting}
    if out is clip:
        out = clip.copy()
    return (out[0] if single else out), applied


def _choose_codec(
    cfg: DegradationsConfig, rng: np.random.Generator
) -> tuple[str, dict[str, Any]] | None:
    """One codec (or none) with its setting, drawn with the configured probabilities."""
    u = rng.random()
    settings: dict[str, CrfCodecConfig | BitrateCodecConfig] = {
        name: getattr(cfg, name) for name in CODECS
    }
    crf = {
        n: int(rng.integers(c.crf[0], c.crf[1] + 1))
        for n, c in settings.items()
        if isinstance(c, CrfCodecConfig)
    }
    bpp = {
        n: float(rng.uniform(*c.bpp))
        for n, c in settings.items()
        if isinstance(c, BitrateCodecConfig)
    }
    cumulative = 0.0
    for name in CODECS:
        cumulative += settings[name].p
        if u < cumulative:
            if name in crf:
                return name, {"crf": crf[name]}
            return name, {"bpp": round(bpp[name], 5)}
    return None


def codec_roundtrip(
    frames: np.ndarray,
    codec: str,
    *,
    fps: int = 25,
    crf: int | None = None,
    bpp: float | None = None,
) -> np.ndarray:
    """Encode a clip ``(T, H, W, 3)`` with ``codec`` (yuv420p) in memory and decode it back.

    Odd sizes are padded by edge replication for the encoder and cropped afterwards.

    Args:
        frames: uint8 RGB clip.
        codec: ``x264``, ``x265``, ``vp9`` or ``mpeg2``.
        fps: frame rate given to the encoder.
        crf: constant rate factor (x264, x265).
        bpp: target bitrate in bits per pixel per frame (vp9, mpeg2).

    Returns:
        The decoded clip, same shape as ``frames``.

    Raises:
        ValueError: for an unknown codec or a missing crf/bpp.
        RuntimeError: when the decoder returns a different number of frames.
    """
    if codec not in _ENCODERS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {CODECS}")
    t_len, height, width = frames.shape[:3]
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    encoder = av.CodecContext.create(_ENCODERS[codec], "w")
    encoder.width, encoder.height = frames.shape[2], frames.shape[1]
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, fps)
    encoder.framerate = Fraction(fps, 1)
    encoder.options = _encoder_options(codec, crf, bpp, frames.shape[1] * frames.shape[2], fps)
    if codec in ("vp9", "mpeg2") and bpp is not None:
        encoder.bit_rate = max(int(bpp * frames.shape[1] * frames.shape[2] * fps), 10_000)
    encoder.thread_count = 1
    packets = []
    for index, frame in enumerate(frames):
        yuv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420)
        picture = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        picture.pts = index
        packets += encoder.encode(picture)
    packets += encoder.encode(None)
    decoder = av.CodecContext.create(_DECODERS[codec], "r")
    decoder.thread_count = 1
    decoded = []
    for packet in [*packets, None]:
        for picture in decoder.decode(packet):
            planes = picture.to_ndarray(format="yuv420p")
            decoded.append(cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420))
    if len(decoded) != t_len:
        raise RuntimeError(f"{codec} round trip returned {len(decoded)} of {t_len} frames")
    return np.stack(decoded)[:, :height, :width]


def _encoder_options(
    codec: str, crf: int | None, bpp: float | None, pixels: int, fps: int
) -> dict[str, str]:
    if codec in ("x264", "x265"):
        if crf is None:
            raise ValueError(f"{codec} needs a crf")
        options = {"crf": str(int(crf)), "preset": "veryfast"}
        if codec == "x265":
            # not byte-reproducible whatever the settings (see the schema's x265 description)
            options["x265-params"] = "log-level=error:pools=none:frame-threads=1"
        else:  # mbtree off, one thread (see mosaicflow.video.x264)
            options = reproducible_x264_options(**options)
        return options
    if bpp is None:
        raise ValueError(f"{codec} needs a bpp (bits per pixel per frame)")
    if codec == "vp9":
        return {"deadline": "realtime", "cpu-used": "8", "row-mt": "0", "threads": "1"}
    return {"threads": "1"}


def upscale_from_low(frames: np.ndarray, scale: float) -> np.ndarray:
    """Shrink every frame to ``scale`` of its size (area) and enlarge it back (bicubic)."""
    height, width = frames.shape[1:3]
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.stack(
        [
            cv2.resize(
                cv2.resize(f, small, interpolation=cv2.INTER_AREA),
                (width, height),
                interpolation=cv2.INTER_CUBIC,
            )
            for f in frames
        ]
    )


def pixelate_regions(frames: np.ndarray, masks: np.ndarray, block: int) -> np.ndarray:
    """Pixelate the masked pixels of every frame with square ``block`` x ``block`` blocks."""
    params = MosaicParams(
        block_h=block,
        block_w=block,
        shape="squa_avg",
        offset_y=0,
        offset_x=0,
        feather=0,
        dilate_radius=max(1, block // 3),
        close_radius=0,
        incomplete_blocks=False,
        block_select="any",
    )
    return apply_mosaic(frames, masks, params)[0]
