"""libx264 options that make an encode reproducible byte for byte, in one process and across.

With libx264's macroblock-tree rate control (``mbtree``) on, identical encodes in one process
gave up to 4 different bitstreams in 60 calls (fresh processes agree: an optimised routine
reads memory it did not set); with it off, one bitstream on every clip tried. ``asm=0`` also
works but is 2.6x slower; one thread, the bitexact flags or ``weightp=0`` do not.
"""

from __future__ import annotations

from typing import Any

REPRODUCIBLE_X264_OPTIONS: dict[str, str] = {"threads": "1", "x264-params": "mbtree=0"}


def reproducible_x264_options(**options: str) -> dict[str, str]:
    """``options`` (crf, preset, ...) plus :data:`REPRODUCIBLE_X264_OPTIONS`, which win."""
    return {**options, **REPRODUCIBLE_X264_OPTIONS}


def add_h264_stream(container: Any, width: int, height: int, fps: Any, crf: int) -> Any:
    """A reproducible libx264 stream in a PyAV output ``container``: yuv420p, one thread,
    bitexact, :func:`reproducible_x264_options` at ``crf`` and preset veryfast."""
    import av

    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.thread_count = 1
    stream.codec_context.flags |= av.codec.context.Flags.bitexact
    stream.options = reproducible_x264_options(crf=str(crf), preset="veryfast")
    return stream
