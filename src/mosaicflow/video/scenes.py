"""Scene-cut scores with the semantics of FFmpeg's ``scdet`` filter (``libavfilter/vf_scdet.c``).

For YUV input scdet compares consecutive frames on the luma plane only:
``mafd = SAD * 100 / (w*h) / 2**bitdepth`` and the score is ``min(mafd, |mafd - prev_mafd|)``
clipped to [0, 100]; a frame whose score is ``>= threshold`` starts a new scene. The first frame
scores 0. Every decoded frame is compared with the previous decoded frame (not the last kept one).
"""

from __future__ import annotations

import cv2
import numpy as np


def mafd(cur: np.ndarray, prev: np.ndarray, bitdepth: int = 8) -> float:
    """Mean absolute frame difference of two planes on scdet's 0-100 scale."""
    sad = cv2.norm(cur, prev, cv2.NORM_L1)
    return float(sad) * 100.0 / cur.size / float(1 << bitdepth)


class SceneDetector:
    """Stateful scdet: push luma planes in order, get ``(score, is_cut)``.

    Args:
        threshold: score (0-100) at or above which a new scene starts.
        bitdepth: bits per sample of the planes.
    """

    def __init__(self, threshold: float, bitdepth: int = 8) -> None:
        self.threshold = float(threshold)
        self.bitdepth = bitdepth
        self.prev: np.ndarray | None = None
        self.prev_owner: object = None
        self.prev_mafd = 0.0
        self.scene = 0

    def push(self, luma: np.ndarray, owner: object = None) -> tuple[float, bool]:
        """Score the next frame against the previous one.

        Args:
            luma: the frame's luma plane.
            owner: keeps ``luma``'s memory alive until the next call (copied when ``None``).

        Returns:
            ``(score, is_cut)``; :attr:`scene` is incremented on a cut.
        """
        score = 0.0
        if self.prev is not None and self.prev.shape == luma.shape:
            value = mafd(luma, self.prev, self.bitdepth)
            score = min(max(min(value, abs(value - self.prev_mafd)), 0.0), 100.0)
            self.prev_mafd = value
        self.prev = luma if owner is not None else np.array(luma, copy=True)
        self.prev_owner = owner
        cut = score >= self.threshold and score > 0.0
        if cut:
            self.scene += 1
        return score, cut
