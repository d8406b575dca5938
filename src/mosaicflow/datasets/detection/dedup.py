"""Near-duplicate drop by perceptual hash (``imagehash.phash``, 64 bits).

Samples are visited in frame order; one whose hash lies within ``max_distance`` (Hamming) of an
already kept sample is dropped, and the drop names that sample and the distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Drop:
    """A dropped sample and why."""

    frame: int
    duplicate_of: int
    distance: int

    @property
    def reason(self) -> str:
        """Human-readable reason (goes into the manifest)."""
        return f"near-duplicate of frame {self.duplicate_of} (phash distance {self.distance})"


def phash(image_rgb: np.ndarray) -> np.ndarray:
    """The 64-bit perceptual hash of an RGB image as a flat bool array."""
    import imagehash
    from PIL import Image

    return np.asarray(imagehash.phash(Image.fromarray(image_rgb)).hash, dtype=bool).reshape(-1)


def drop_near_duplicates(
    frames: Sequence[int], hashes: Sequence[np.ndarray], max_distance: int
) -> tuple[list[int], list[Drop]]:
    """Keep the samples whose hash is farther than ``max_distance`` from every kept one.

    Args:
        frames: frame numbers, in order.
        hashes: their hashes (same length; :func:`phash`).
        max_distance: largest Hamming distance that still counts as a duplicate.

    Returns:
        ``(kept frames, drops)``.
    """
    if len(frames) != len(hashes):
        raise ValueError(f"{len(frames)} frames but {len(hashes)} hashes")
    kept: list[int] = []
    kept_hashes: list[np.ndarray] = []
    drops: list[Drop] = []
    for frame, value in zip(frames, hashes, strict=True):
        if kept_hashes:
            distances = np.count_nonzero(np.stack(kept_hashes) != value[None], axis=1)
            nearest = int(np.argmin(distances))
            if int(distances[nearest]) <= max_distance:
                drops.append(Drop(int(frame), kept[nearest], int(distances[nearest])))
                continue
        kept.append(int(frame))
        kept_hashes.append(value)
    return kept, drops
