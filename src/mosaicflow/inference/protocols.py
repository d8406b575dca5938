"""The two models the pipeline needs, as small protocols (fakes in tests, YOLO and BasicVSR++
in production)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Detections:
    """The mosaic instances found in one frame.

    Attributes:
        masks: ``(N, H, W)`` bool masks at the frame's resolution (``N`` may be 0).
        scores: ``(N,)`` confidences (ones when the detector has none).
    """

    masks: np.ndarray
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        if self.masks.ndim != 3:
            raise ValueError(f"masks must be (N, H, W), got shape {self.masks.shape}")
        if len(self.scores) != len(self.masks):
            object.__setattr__(self, "scores", np.ones(len(self.masks), np.float32))

    @classmethod
    def none(cls, height: int, width: int) -> Detections:
        """No detection in a ``height x width`` frame."""
        return cls(np.zeros((0, height, width), bool), np.zeros(0, np.float32))

    @classmethod
    def from_masks(cls, *masks: np.ndarray) -> Detections:
        """Detections from 2-D masks (non-zero = mosaic), each with score 1."""
        if not masks:
            raise ValueError("from_masks needs at least one mask (use Detections.none)")
        stacked = np.stack([np.asarray(m) > 0 for m in masks])
        return cls(stacked, np.ones(len(masks), np.float32))


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
