"""Scoring a full-resolution frame: five crops (four corners and the centre) or one resize.

Pixel-level damage (blur, codec blocks, a low source resolution) shows at the source's own
resolution; a resize of the whole frame to the classifier's input averages it away. The five
crops keep the pixels as they are and cover the corners and the middle of the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from mosaicflow.quality.config import COMBINES
from mosaicflow.quality.model import QualityNet, to_tensor

#: Degradation classes that damage a part of a frame; the others damage all of it.
LOCAL_CLASSES = frozenset({"mosaic"})


def combine_crops(probabilities: np.ndarray, classes: Sequence[str], how: str) -> float:
    """A frame's P(clean) score from its crops' class probabilities ``(crops, classes)``.

    ``by_kind``: the evidence of the classes that damage a whole frame (a re-encode, a blur, an
    upscale) is averaged over the crops, that of the classes that damage a part of it (a
    pixelated region) is taken from the worst crop, and the score is 1 minus the larger.
    ``min``: the worst crop's P(clean); ``mean``: the crops' mean P(clean).
    """
    clean = probabilities[:, 0]
    if how == "min":
        return float(clean.min())
    if how == "mean":
        return float(clean.mean())
    if how != "by_kind":
        raise ValueError(f"combine: {how!r} is not one of {COMBINES}")
    whole = [i for i, c in enumerate(classes) if i and c not in LOCAL_CLASSES]
    part = [i for i, c in enumerate(classes) if c in LOCAL_CLASSES]
    damage_whole = float(probabilities[:, whole].sum(axis=1).mean()) if whole else 0.0
    damage_part = float(probabilities[:, part].sum(axis=1).max()) if part else 0.0
    return 1.0 - max(damage_whole, damage_part)


def padded_to(frame: np.ndarray, size: int) -> np.ndarray:
    """``frame`` edge-padded at its bottom and right to at least ``size`` x ``size``."""
    height, width = frame.shape[:2]
    if height >= size and width >= size:
        return frame
    pad = ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0))
    return np.pad(frame, pad, mode="edge")


def crop_origins(height: int, width: int, size: int) -> list[tuple[int, int]]:
    """``(y, x)`` of the four corner crops and the centre crop of a frame at least ``size``
    pixels on each side."""
    corners = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size)]
    return [*corners, ((height - size) // 2, (width - size) // 2)]


def five_crops(frame: np.ndarray, size: int) -> list[np.ndarray]:
    """The four corner crops and the centre crop, ``size`` x ``size`` (edge-padded if smaller)."""
    frame = padded_to(frame, size)
    return [
        np.ascontiguousarray(frame[y : y + size, x : x + size])
        for y, x in crop_origins(*frame.shape[:2], size)
    ]


def one_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """The whole frame resized (area) to ``size`` x ``size``."""
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class FrameQuality:
    """P(clean) of one frame: from its five crops (combined) and from one resize."""

    five_crops: float
    resize: float


def read_classifier(path: Path) -> dict[str, Any]:
    """The saved classifier of ``path``, or a ValueError naming the file when it is not one."""
    not_ours = f"{path}: not a source-quality classifier (train_quality_classifier's quality.pt)"
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike
        raise ValueError(f"{not_ours}: {error}") from error
    keys = {"classes", "crop", "width", "combine", "state_dict"}
    if not isinstance(saved, dict):
        raise ValueError(f"{not_ours}: it holds a {type(saved).__name__}")
    if not keys <= saved.keys():
        raise ValueError(f"{not_ours}: it lacks {sorted(keys - saved.keys())}")
    if list(saved["classes"])[:1] != ["clean"]:
        raise ValueError(f"{not_ours}: its first class is not 'clean': {saved['classes']}")
    return saved


class QualityScorer:
    """The trained classifier (``quality.pt`` of rule train_quality_classifier), ready to score."""

    def __init__(self, weights: str | Path, device: str = "cpu") -> None:
        saved = read_classifier(Path(weights))
        self.classes: list[str] = list(saved["classes"])
        self.crop = int(saved["crop"])
        self.combine = str(saved["combine"])
        if self.combine not in COMBINES:
            raise ValueError(f"{weights}: unknown crop combination {self.combine!r}")
        self.device = torch.device(device)
        self.net = QualityNet(len(self.classes), int(saved["width"]))
        self.net.load_state_dict(saved["state_dict"])
        self.net.to(self.device).eval()

    @torch.inference_mode()
    def probabilities(self, crops: list[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N, classes)`` of uint8 RGB crops."""
        logits = self.net(to_tensor(crops).to(self.device))
        return torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)

    def crop_probabilities(self, frame: np.ndarray) -> np.ndarray:
        """Class probabilities of a uint8 RGB frame's five crops and, last, of its one resize:
        ``(6, classes)``."""
        return self.probabilities([*five_crops(frame, self.crop), one_resize(frame, self.crop)])

    def frame(self, frame: np.ndarray) -> FrameQuality:
        """Score one uint8 RGB frame at full resolution."""
        probabilities = self.crop_probabilities(frame)
        combined = combine_crops(probabilities[:5], self.classes, self.combine)
        return FrameQuality(round(combined, 6), round(float(probabilities[5, 0]), 6))

    def scores(self, frame: np.ndarray) -> tuple[float, float]:
        """``(five crops, resize)`` P(clean) of a frame: the analysers' scorer."""
        found = self.frame(frame)
        return found.five_crops, found.resize


def load_scorer(weights: str | Path | None, threads: int) -> QualityScorer | None:
    """The classifier of ``weights`` on the CPU with ``threads`` threads (None: no weights)."""
    if weights is None:
        return None
    from mosaicflow.threads import set_threads

    scorer = QualityScorer(weights)
    set_threads(threads)
    return scorer
