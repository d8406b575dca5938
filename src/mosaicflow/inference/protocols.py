"""The two models the pipeline needs, as small protocols (fakes in tests, YOLO and BasicVSR++
in production)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from mosaicflow.yolo.adapter import Detections

__all__ = ["BatchRestorer", "Detections", "Detector", "Restorer"]


@runtime_checkable
class Detector(Protocol):
    """Finds mosaic regions: a batch of RGB frames -> one :class:`Detections` per frame."""

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in ``frames`` (each ``(H, W, 3)`` uint8 RGB), in order."""
        ...


@runtime_checkable
class Restorer(Protocol):
    """Restores a clip of square crops: ``(T, S, S, 3)`` uint8 RGB -> the same shape.

    Attributes:
        input_size: ``S``, the side of the crops the model expects.
    """

    input_size: int

    def restore(self, clip: np.ndarray) -> np.ndarray:
        """Restore ``clip`` (``(T, S, S, 3)`` uint8 RGB); returns an array of the same shape."""
        ...


@runtime_checkable
class BatchRestorer(Protocol):
    """A :class:`Restorer` that also restores several clips of one length in one call."""

    input_size: int

    def restore(self, clip: np.ndarray) -> np.ndarray:
        """Restore one clip (``(T, S, S, 3)`` uint8 RGB)."""
        ...

    def restore_batch(self, clips: np.ndarray) -> np.ndarray:
        """Restore ``(B, T, S, S, 3)`` uint8 RGB clips; returns an array of the same shape."""
        ...
