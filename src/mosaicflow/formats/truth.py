"""Ground truth of a video: an instance-id mask video and a truth JSON.

The demo world writes it (:mod:`mosaicflow.world.render`) and evaluation reads it
(:mod:`mosaicflow.yolo.scoring`); this module is the format both sides share.

- the truth masks: a lossless FFV1 ``gray`` video (.mkv) with one frame per video frame; each
  pixel holds the instance id of the target it belongs to (1..N, stable over the video),
  0 = background. Written with :func:`truth_mask_writer`, read with :func:`read_truth`;
- the truth JSON (``version`` = :data:`TRUTH_VERSION`): at least fps, size, frame count, class
  names of the watermark boxes and, per frame, the watermark boxes ``[x0, y0, x1, y1]`` in pixels
  (x1/y1 exclusive) with their class names; the demo world adds, per frame, the boxes of the
  unlabelled distractor objects (``distractors``, same layout). Written with
  :func:`write_truth_json`, read with :func:`load_truth_json`; both check the version, the keys
  and the number of frame entries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.io import atomic_path, read_json, write_json

#: Version of the truth JSON layout (checked by :func:`load_truth_json`).
TRUTH_VERSION = 1
#: What a pixel of the truth mask video means (also written into the truth JSON).
MASK_ENCODING = "FFV1 gray8 video; pixel = instance id 1..N of the target, 0 = background"
#: Keys every truth JSON holds (besides ``version``).
REQUIRED_KEYS = frozenset({"fps", "width", "height", "frames", "classes", "per_frame"})


@contextlib.contextmanager
def truth_mask_writer(
    path: Path, fps: int, width: int, height: int
) -> Iterator[Callable[[np.ndarray], None]]:
    """Write a truth mask video, one instance-id mask per frame, atomically.

    The encoder runs on one thread with FFmpeg's bitexact flags, so the same masks give the same
    bytes. The file appears (complete) when the ``with`` block ends without an exception.

    Args:
        path: the .mkv to write.
        fps: frame rate of the video the masks belong to.
        width, height: frame size.

    Yields:
        A function taking the next mask, a ``uint8`` array of shape ``(height, width)``.

    Raises:
        ValueError: naming the file, for a mask of another shape or dtype.
    """
    import av

    path = Path(path)
    bitexact = {"fflags": "+bitexact"}
    with atomic_path(path) as tmp, av.open(str(tmp), "w", container_options=bitexact) as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "gray"
        stream.codec_context.thread_count = 1
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        count = 0

        def write(mask: np.ndarray) -> None:
            nonlocal count
            if mask.dtype != np.uint8 or mask.shape != (height, width):
                raise ValueError(
                    f"{path}: frame {count}: mask of shape {mask.shape} and dtype {mask.dtype}, "
                    f"expected uint8 ({height}, {width})"
                )
            frame = av.VideoFrame.from_ndarray(mask, format="gray")
            frame.pts = count
            container.mux(stream.encode(frame))
            count += 1

        yield write
        container.mux(stream.encode(None))


def read_truth(
    truth_mkv: Path, frames: Iterable[int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame number, instance-id array)`` from a truth mask video.

    Args:
        truth_mkv: the FFV1 .mkv written by :func:`truth_mask_writer`.
        frames: frame numbers to yield (all when None; any order), yielded in increasing order.

    Raises:
        ValueError: naming the file when it cannot be decoded or lacks a requested frame.
    """
    from mosaicflow.video.decode import iter_frames

    return iter_frames(truth_mkv, frames, fmt="gray", threads=1)


def _check(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("version") != TRUTH_VERSION:
        got = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: truth JSON version {got!r}, expected {TRUTH_VERSION}")
    missing = REQUIRED_KEYS - set(data)
    if missing:
        raise ValueError(f"{path}: truth JSON lacks keys {sorted(missing)}")
    if len(data["per_frame"]) != data["frames"]:
        raise ValueError(
            f"{path}: truth JSON has {len(data['per_frame'])} frame entries, "
            f"expected {data['frames']}"
        )
    return data


def write_truth_json(path: Path, data: dict[str, Any]) -> None:
    """Write a truth JSON atomically after checking it as :func:`load_truth_json` does.

    Args:
        path: the JSON file.
        data: the truth, with ``version`` = :data:`TRUTH_VERSION` and :data:`REQUIRED_KEYS`.

    Raises:
        ValueError: naming the file when the version is wrong, keys lack or the number of
            ``per_frame`` entries is not ``frames``.
    """
    write_json(path, _check(data, Path(path)))


def load_truth_json(path: Path) -> dict[str, Any]:
    """Read a truth JSON, checking its version and keys.

    Raises:
        ValueError: naming the file when the version is not :data:`TRUTH_VERSION`, keys lack or
            the number of ``per_frame`` entries is not ``frames``.
    """
    return _check(read_json(path), Path(path))


def degraded_frames(scenes: Sequence[Mapping[str, Any]], frames: int) -> list[str | None]:
    """Per frame, the kind of its scene's degradation (None: clean), from a truth JSON's scenes."""
    kinds: list[str | None] = [None] * frames
    for scene in scenes:
        degradation = scene.get("degraded")
        if degradation:
            for f in range(int(scene["start"]), min(int(scene["end"]), frames)):
                kinds[f] = str(degradation["kind"])
    return kinds
