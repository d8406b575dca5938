"""What a person looks at: a side-by-side sample video and a still grid (input | restored |
truth), each panel labelled."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mosaicflow.io import atomic_path, write_bytes

PANELS = ("input", "restored", "truth")
HEADER = 16


@dataclass(frozen=True)
class SampleFrame:
    """One row of the grid: where it comes from and its three panels (RGB uint8).

    Attributes:
        video: the video's name.
        frame: frame number.
        input, restored, truth: the mosaic input, the restored frame, the original.
    """

    video: str
    frame: int
    input: np.ndarray
    restored: np.ndarray
    truth: np.ndarray


def densest_window(flags: Sequence[bool], length: int) -> int:
    """Start of the ``length``-frame window holding the most ``True`` flags (the first such)."""
    if length <= 0:
        raise ValueError(f"window length must be >= 1, got {length}")
    values = np.asarray(flags, np.int64)
    if len(values) <= length:
        return 0
    sums = np.convolve(values, np.ones(length, np.int64), mode="valid")
    return int(np.argmax(sums))


def spread(items: Sequence[tuple[str, int]], count: int) -> list[tuple[str, int]]:
    """``count`` items evenly spaced over ``items`` (all of them when there are fewer)."""
    if count <= 0 or not items:
        return []
    if len(items) <= count:
        return list(items)
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in sorted(set(picks.tolist()))]


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    """The panel with a black header strip holding ``text``."""
    height, width = panel.shape[:2]
    out = np.zeros((height + HEADER, width, 3), np.uint8)
    out[HEADER:] = panel
    cv2.putText(out, text, (3, HEADER - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip
    return out


def side_by_side_frame(
    mosaic: np.ndarray, restored: np.ndarray, truth: np.ndarray, caption: str = ""
) -> np.ndarray:
    """One labelled ``input | restored | truth`` row (RGB); ``caption`` goes on the first."""
    names = [f"input {caption}".strip(), "restored", "truth"]
    return np.hstack([_label(p, n) for p, n in zip((mosaic, restored, truth), names, strict=True)])


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad to even width and height (4:2:0 needs them)."""
    height, width = frame.shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    return np.pad(frame, pad) if any(p[1] for p in pad) else frame


def write_side_by_side(
    mosaic_video: Path,
    restored_video: Path,
    original_video: Path,
    out: Path,
    start: int,
    count: int,
    fps: float,
    *,
    crf: int = 20,
) -> int:
    """Encode frames ``start`` .. ``start + count - 1`` of the three videos side by side (those
    that exist: a window past the end is cut short).

    Args:
        mosaic_video, restored_video, original_video: the three sources (same frame size).
        out: the .mp4 to write (x264, reproducible options), atomically.
        start, count: the frame window.
        fps: the output frame rate.
        crf: x264 CRF.

    Returns:
        Frames written.
    """
    from fractions import Fraction

    import av

    from mosaicflow.video.decode import iter_frames
    from mosaicflow.video.x264 import add_h264_stream

    def window(video: Path) -> Iterator[tuple[int, np.ndarray]]:
        for number, image in iter_frames(video, fmt="rgb24", threads=1):
            if number >= start + count:
                return
            if number >= start:
                yield number, image

    sources = [window(v) for v in (mosaic_video, restored_video, original_video)]
    written = 0
    rate = Fraction(fps).limit_denominator(1001)
    bitexact = {"fflags": "+bitexact"}
    with (
        atomic_path(out) as tmp,
        av.open(str(tmp), "w", container_options=bitexact) as container,
    ):
        stream = None
        for (number, a), (_, b), (_, c) in zip(*sources, strict=False):
            frame = _even(side_by_side_frame(a, b, c, f"#{number}"))
            if stream is None:
                height, width = frame.shape[:2]
                stream = add_h264_stream(container, width, height, rate, crf)
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame = video_frame.reformat(format="yuv420p", threads=1)
            video_frame.pts = written
            container.mux(stream.encode(video_frame))
            written += 1
        if stream is None:
            raise ValueError(f"{mosaic_video}: no frame in {start}..{start + count - 1}")
        container.mux(stream.encode(None))
    return written


def read_samples(
    picks: Sequence[tuple[str, int]], sources: dict[str, tuple[Path, Path, Path]]
) -> list[SampleFrame]:
    """Decode the picked frames.

    Args:
        picks: ``(video name, frame)`` pairs.
        sources: video name -> (mosaic input, restored, original).
    """
    from mosaicflow.video.decode import iter_frames

    rows: list[SampleFrame] = []
    for name in dict.fromkeys(n for n, _ in picks):
        frames = sorted(f for n, f in picks if n == name)
        decoded = [dict(iter_frames(v, frames, fmt="rgb24", threads=1)) for v in sources[name]]
        for f in frames:
            rows.append(SampleFrame(name, f, decoded[0][f], decoded[1][f], decoded[2][f]))
    return rows


def write_grid(rows: Sequence[SampleFrame], out: Path, max_width: int = 1200) -> Path:
    """A PNG with one labelled ``input | restored | truth`` row per sample, written atomically.

    Rows wider than ``max_width`` pixels are scaled down (area interpolation).
    """
    if not rows:
        raise ValueError(f"{out}: no sample frames for the grid")
    images = [side_by_side_frame(r.input, r.restored, r.truth, f"{r.video} #{r.frame}")
              for r in rows]  # fmt: skip
    width = max(img.shape[1] for img in images)
    padded = [np.pad(img, ((0, 2), (0, width - img.shape[1]), (0, 0))) for img in images]
    grid = np.vstack(padded)
    if grid.shape[1] > max_width:
        scale = max_width / grid.shape[1]
        size = (max_width, max(1, round(grid.shape[0] * scale)))
        grid = cv2.resize(grid, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".png", cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{out}: PNG encoding failed")
    write_bytes(out, data.tobytes())
    return Path(out)
