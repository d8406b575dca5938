"""Scoring a full-resolution frame: five crops (four corners and the centre) or one resize.

Pixel-level damage (blur, codec blocks, a low source resolution) shows at the source's own
resolution; a resize of the whole frame to the classifier's input averages it away. The five
crops keep the pixels as they are and cover the corners and the middle of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from mosaicflow.quality.model import QualityNet, to_tensor


def five_crops(frame: np.ndarray, size: int) -> list[np.ndarray]:
    """The four corner crops and the centre crop, ``size`` x ``size`` (edge-padded if smaller)."""
    height, width = frame.shape[:2]
    if height < size or width < size:
        frame = np.pad(
            frame, ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0)), mode="edge"
        )
        height, width = frame.shape[:2]
    cy, cx = (height - size) // 2, (width - size) // 2
    corners = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size)]
    return [
        np.ascontiguousarray(frame[y : y + size, x : x + size]) for y, x in [*corners, (cy, cx)]
    ]


def one_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """The whole frame resized (area) to ``size`` x ``size``."""
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class FrameQuality:
    """P(clean) of one frame: from its five crops (combined) and from one resize."""

    five_crops: float
    resize: float


def _load_classifier(path: Path) -> dict[str, Any]:
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
        saved = _load_classifier(Path(weights))
        self.classes: list[str] = list(saved["classes"])
        self.crop = int(saved["crop"])
        self.combine = str(saved["combine"])
        self.device = torch.device(device)
        self.net = QualityNet(len(self.classes), int(saved["width"]))
        self.net.load_state_dict(saved["state_dict"])
        self.net.to(self.device).eval()

    @torch.inference_mode()
    def probabilities(self, crops: list[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N, classes)`` of uint8 RGB crops."""
        logits = self.net(to_tensor(crops).to(self.device))
        return torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)

    def clean_probabilities(self, frame: np.ndarray) -> np.ndarray:
        """P(clean) of a uint8 RGB frame's five crops and, last, of its one resize: ``(6,)``."""
        crops = [*five_crops(frame, self.crop), one_resize(frame, self.crop)]
        return self.probabilities(crops)[:, 0]

    def frame(self, frame: np.ndarray) -> FrameQuality:
        """Score one uint8 RGB frame at full resolution."""
        clean = self.clean_probabilities(frame)
        combined = clean[:5].min() if self.combine == "min" else clean[:5].mean()
        return FrameQuality(round(float(combined), 6), round(float(clean[5]), 6))

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
