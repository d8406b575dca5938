"""Near-duplicate dropping with the exact semantics of FFmpeg's ``mpdecimate`` filter.

PyAV's FFmpeg build lacks the (GPL) filter, so this is a numpy/OpenCV re-implementation of
``libavfilter/vf_mpdecimate.c``:

- every frame is compared with the last frame that was KEPT (the reference), plane by plane,
  chroma planes at their subsampled size;
- on each plane, sums of absolute differences (SAD) of 8x8 blocks are taken on a grid of stride 4,
  ``y = 0, 4, ... < h-7`` and ``x = 8, 12, ... < w-7`` (FFmpeg skips the first 8 columns);
- a plane differs if any block SAD is ``> hi``, or if more than ``t = (w/16)*(h/16)*frac`` blocks
  (integer divisions, float32 product, truncated) have SAD ``> lo``;
- a frame is dropped when no plane differs, subject to ``max`` (> 0: at most ``max`` consecutive
  drops; < 0: at least ``|max|`` frames between two drops) and, in FFmpeg >= 7.1, ``keep``.

Two rule sets exist: ``"5.1"`` (FFmpeg <= 7.0, e.g. Debian 12's 5.1: a frame kept because of
``max`` becomes the new reference) and ``"7.1"`` (adds ``keep``; frames kept because of ``max`` or
``keep`` are passed on but do not replace the reference). The SAD grid is vectorised: one
``absdiff`` and a few strided uint16 additions per plane, after an exact shortcut (no block
SAD can exceed 64 times the largest pixel difference).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Named parameter sets: (hi, lo, frac).
PRESETS: dict[str, tuple[int, int, float]] = {
    "default": (64 * 12, 64 * 5, 0.33),
    "anime": (64 * 200, 64 * 50, 0.33),
}

SEMANTICS = ("5.1", "7.1")


@dataclass(frozen=True)
class MpdecimateParams:
    """mpdecimate parameters with FFmpeg's names.

    Attributes:
        hi: a block SAD above this makes the plane differ.
        lo: blocks with SAD above this are counted against ``frac``.
        frac: fraction of the ``(w/16)*(h/16)`` blocks above ``lo`` that makes the plane differ.
        max: > 0 caps consecutive drops, < 0 sets a minimum interval between drops, 0 = no limit.
        keep: similar frames kept in a row before dropping starts (rule set ``"7.1"`` only).
        semantics: ``"5.1"`` or ``"7.1"`` (see the module docstring).
    """

    hi: int = 64 * 12
    lo: int = 64 * 5
    frac: float = 0.33
    max: int = 0
    keep: int = 0
    semantics: str = "5.1"

    def __post_init__(self) -> None:
        if self.semantics not in SEMANTICS:
            raise ValueError(f"mpdecimate semantics must be one of {SEMANTICS}: {self.semantics!r}")
        if self.keep < 0:
            raise ValueError(f"mpdecimate keep must be >= 0: {self.keep}")
        if self.keep and self.semantics == "5.1":
            raise ValueError("mpdecimate keep needs the FFmpeg 7.1 rules (ffmpeg_version: '7.1')")
        if not 0.0 <= self.frac <= 1.0:
            raise ValueError(f"mpdecimate frac must be within [0, 1]: {self.frac}")

    @classmethod
    def preset(cls, name: str, **overrides: int | str) -> MpdecimateParams:
        """Parameters of a named preset (``default``, ``anime``), with ``max``/``keep`` etc."""
        if name not in PRESETS:
            raise ValueError(f"unknown mpdecimate preset {name!r}; known: {sorted(PRESETS)}")
        hi, lo, frac = PRESETS[name]
        return cls(hi=hi, lo=lo, frac=frac, **overrides)  # type: ignore[arg-type]

    def ffmpeg_filter(self) -> str:
        """The equivalent ``-vf`` filter string (for the parity test and the benchmark)."""
        text = f"mpdecimate=hi={self.hi}:lo={self.lo}:frac={self.frac}:max={self.max}"
        return text + (f":keep={self.keep}" if self.keep else "")


def grid_shape(height: int, width: int) -> tuple[int, int]:
    """Number of 8x8 blocks (rows, columns) FFmpeg compares on a plane of this size."""
    ny = len(range(0, height - 7, 4))
    nx = len(range(8, width - 7, 4))
    return ny, nx


def block_threshold(height: int, width: int, frac: float) -> int:
    """``int t = (w/16)*(h/16)*frac`` evaluated like C (int product, float32 multiply, trunc)."""
    blocks = (width // 16) * (height // 16)
    return int(np.float32(blocks) * np.float32(frac))


def _block_sads_region(cur: np.ndarray, ref: np.ndarray, ny: int, nx: int) -> np.ndarray:
    rows, cols = 4 * (ny + 1), 4 * (nx + 1)
    diff = cv2.absdiff(cur[:rows, 8 : 8 + cols], ref[:rows, 8 : 8 + cols])
    # 4x4 cell sums (uint16 cannot overflow: an 8x8 block sums to at most 64 * 255 = 16320)
    cells = diff[0::4].astype(np.uint16)
    cells += diff[1::4]
    cells += diff[2::4]
    cells += diff[3::4]
    grid = cells[:, 0::4] + cells[:, 1::4]
    grid += cells[:, 2::4]
    grid += cells[:, 3::4]
    pairs = grid[:-1] + grid[1:]
    return pairs[:, :-1] + pairs[:, 1:]


def block_sads(cur: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """SADs of mpdecimate's 8x8 blocks (rows ``y = 0, 4, ...``, columns ``x = 8, 12, ...``).

    Args:
        cur, ref: 2-D ``uint8`` planes of equal shape.

    Returns:
        ``uint16`` array of shape :func:`grid_shape` (empty when the plane is too small).
    """
    h, w = cur.shape
    ny, nx = grid_shape(h, w)
    if ny <= 0 or nx <= 0:
        return np.zeros((max(ny, 0), max(nx, 0)), np.uint16)
    return _block_sads_region(cur, ref, ny, nx)


def plane_differs(cur: np.ndarray, ref: np.ndarray, hi: int, lo: int, frac: float) -> bool:
    """mpdecimate's ``diff_planes``: True if the two planes are different."""
    h, w = cur.shape
    ny, nx = grid_shape(h, w)
    if ny <= 0 or nx <= 0:
        return False
    # Exact shortcut: no 8x8 block can sum above 64 * (largest pixel difference).
    region = (slice(0, 4 * ny + 4), slice(8, 12 + 4 * nx))
    bound = 64 * int(cv2.norm(cur[region], ref[region], cv2.NORM_INF))
    if bound <= lo and bound <= hi:
        return False
    sads = _block_sads_region(cur, ref, ny, nx)
    if int(sads.max()) > hi:
        return True
    return int(np.count_nonzero(sads > lo)) > block_threshold(h, w, frac)


def frames_similar(
    cur: tuple[np.ndarray, ...], ref: tuple[np.ndarray, ...], params: MpdecimateParams
) -> bool:
    """True when no plane of ``cur`` differs from ``ref`` (a near-duplicate)."""
    if len(cur) != len(ref) or any(c.shape != r.shape for c, r in zip(cur, ref, strict=True)):
        return False  # a size/format change: FFmpeg reconfigures the graph and keeps the frame
    for c, r in zip(cur, ref, strict=True):
        if plane_differs(c, r, params.hi, params.lo, params.frac):
            return False
    return True


class Mpdecimate:
    """Stateful decimator: feed frames in order, get keep/drop decisions.

    Example:
        >>> dec = Mpdecimate(MpdecimateParams.preset("default"))
        >>> keep = [dec.push(planes) for planes in frames]  # doctest: +SKIP
    """

    def __init__(self, params: MpdecimateParams) -> None:
        self.params = params
        self.ref: tuple[np.ndarray, ...] | None = None
        self.ref_owner: object = None
        self.drop_count = 0
        self.keep_count = 0

    def push(self, planes: tuple[np.ndarray, ...], owner: object = None) -> bool:
        """Decide on the next frame; True = keep, False = drop as a near-duplicate.

        Args:
            planes: the frame's 2-D ``uint8`` planes.
            owner: an object that keeps the planes' memory alive while they are the reference
                (e.g. the PyAV frame); the planes are copied when it is ``None``.
        """
        p = self.params
        if self.ref is None:
            self._update(planes, owner)
            return True
        if p.semantics == "5.1":
            return self._push_51(planes, owner)
        return self._push_71(planes, owner)

    def _update(self, planes: tuple[np.ndarray, ...], owner: object) -> None:
        if owner is None:
            planes = tuple(np.array(plane, copy=True) for plane in planes)
        self.ref, self.ref_owner = planes, owner
        self.drop_count = min(-1, self.drop_count - 1)
        self.keep_count = 0

    def _push_51(self, planes: tuple[np.ndarray, ...], owner: object) -> bool:
        p, drops = self.params, self.drop_count
        limited = (p.max > 0 and drops >= p.max) or (p.max < 0 and drops - 1 > p.max)
        assert self.ref is not None
        if not limited and frames_similar(planes, self.ref, p):
            self.drop_count = max(1, drops + 1)
            return False
        self._update(planes, owner)
        return True

    def _push_71(self, planes: tuple[np.ndarray, ...], owner: object) -> bool:
        p, drops = self.params, self.drop_count
        assert self.ref is not None
        if not frames_similar(planes, self.ref, p):
            self._update(planes, owner)
            return True
        limited = (p.max > 0 and drops >= p.max) or (p.max < 0 and drops - 1 > p.max)
        if not limited and p.keep > 0 and -1 < self.keep_count < p.keep:
            self.keep_count += 1
            limited = True
        if limited:
            self.drop_count = min(-1, drops - 1)
            return True
        self.drop_count = max(1, drops + 1)
        self.keep_count = -1
        return False


def decimate(frames: list[tuple[np.ndarray, ...]], params: MpdecimateParams) -> list[bool]:
    """Keep flags of a list of frames (each a tuple of planes); a convenience for tests."""
    dec = Mpdecimate(params)
    return [dec.push(planes, owner=planes) for planes in frames]
