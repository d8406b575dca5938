"""Training the source-quality classifier on the kept frames of the training videos.

Each training frame gives a few windows (crop plus a margin) held in memory, so the memory does
not grow with the video resolution. Every step draws a batch of windows and a class for each,
degrades the window as the class says (:mod:`.classes`) and cuts the crop from its middle.
The card measures the classifier on held-out frames: per-class accuracy on crops, and how well
a frame's P(clean) separates clean frames from degraded ones (AUROC), from five crops and from
one resize.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

from mosaicflow.bootstrap import auroc_interval
from mosaicflow.io import save_torch, write_json
from mosaicflow.mosaic.degrade import pixelate_regions
from mosaicflow.provenance import file_hash
from mosaicflow.quality.classes import (
    CLASSES,
    crop_windows,
    degrade_window,
    make_sample,
    random_window,
    reencoded,
    window_margin,
)
from mosaicflow.quality.config import COMBINES, QualityConfig
from mosaicflow.quality.model import QualityNet, to_tensor
from mosaicflow.quality.roc import auroc
from mosaicflow.quality.score import QualityScorer, combine_crops, read_classifier
from mosaicflow.video.decode import iter_frames

LOG = logging.getLogger(__name__)
#: Windows kept per training frame.
WINDOWS_PER_FRAME = 4
#: Of those, windows around the crops that scoring reads: a frame's corners hold what its middle
#: rarely does (watermarks, borders, letterboxing), and the clean class must have seen it.
AT_SCORED_CROPS = 2
#: Optimizer steps per point of the card's loss curve: each point is the mean training loss of
#: the steps since the one before (one batch's loss swings by a factor of three).
CURVE_STEPS = 50
#: Width of the network's first layer.
WIDTH = 16


@dataclass(frozen=True)
class FrameSource:
    """One video's kept frames: its id, its file and its frames index (``index.parquet``)."""

    video_id: str
    video: Path
    index: Path


def _kept(index: Path) -> np.ndarray:
    frame = pd.read_parquet(index, columns=["frame", "kept"])
    return frame.loc[frame["kept"], "frame"].to_numpy(np.int64)


def pick_frames(sources: Sequence[FrameSource], count: int) -> dict[str, list[int]]:
    """``count`` frames spread evenly over the kept frames of all ``sources`` (per video id)."""
    pool = [(s.video_id, int(f)) for s in sources for f in _kept(s.index)]
    if not pool:
        return {}
    picks = np.unique(np.linspace(0, len(pool) - 1, min(count, len(pool))).round().astype(int))
    chosen: dict[str, list[int]] = {}
    for i in picks:
        video_id, frame = pool[int(i)]
        chosen.setdefault(video_id, []).append(frame)
    return chosen


def iter_picked(sources: Sequence[FrameSource], count: int):
    """Yield ``(video_id, frame_number, rgb)`` of the picked frames, video by video."""
    chosen = pick_frames(sources, count)
    for source in sources:
        numbers = chosen.get(source.video_id)
        if numbers:
            for number, rgb in iter_frames(source.video, numbers, threads=1):
                yield source.video_id, number, rgb


def frame_windows(
    rgb: np.ndarray, cfg: QualityConfig, rng: np.random.Generator
) -> list[np.ndarray]:
    """``WINDOWS_PER_FRAME`` windows of one frame: ``AT_SCORED_CROPS`` of them around distinct
    crops that scoring reads (corners, centre), the others at random places."""
    margin = window_margin(cfg)
    scored = crop_windows(rgb, cfg.crop, margin)
    picks = rng.permutation(len(scored))[:AT_SCORED_CROPS]
    windows = [scored[int(i)] for i in picks]
    windows += [
        random_window(rgb, cfg.crop + 2 * margin, rng)
        for _ in range(WINDOWS_PER_FRAME - len(windows))
    ]
    return [np.ascontiguousarray(w) for w in windows]


def training_windows(
    sources: Sequence[FrameSource], cfg: QualityConfig, rng: np.random.Generator
) -> np.ndarray:
    """The windows of every picked frame (:func:`frame_windows`): ``(N, S, S, 3)`` uint8."""
    windows = [
        window
        for _, _, rgb in iter_picked(sources, cfg.frames)
        for window in frame_windows(rgb, cfg, rng)
    ]
    if not windows:
        raise ValueError("quality: the training videos have no kept frame to train on")
    return np.stack(windows)


def degrade_frame(
    frame: np.ndarray, label: int, cfg: QualityConfig, rng: np.random.Generator
) -> np.ndarray:
    """A whole frame degraded as class ``label`` (a ``mosaic`` ellipse sized to the frame)."""
    if CLASSES[label] != "mosaic":
        return degrade_window(frame, label, cfg, rng)
    height, width = frame.shape[:2]
    side = min(height, width)
    axes = (
        int(rng.integers(side // 10, side // 4 + 1)),
        int(rng.integers(side // 10, side // 4 + 1)),
    )
    centre = (
        int(rng.integers(axes[0], width - axes[0])),
        int(rng.integers(axes[1], height - axes[1])),
    )
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    low, high = cfg.mosaic_block
    return pixelate_regions(frame[None], mask[None], int(rng.integers(low, high + 1)))[0]


def train_classifier(
    train_sources: Sequence[FrameSource],
    val_sources: Sequence[FrameSource],
    cfg: QualityConfig,
    seed: int,
    weights_out: Path,
    card_out: Path,
) -> dict[str, Any]:
    """Train the classifier, save ``weights_out`` and write its card; return the card."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    windows = training_windows(train_sources, cfg, rng)
    margin = window_margin(cfg)
    LOG.info("quality: %d training windows of %d videos", len(windows), len(train_sources))
    # channels-last: oneDNN runs the training step about a quarter faster on the CPU
    net = QualityNet(len(CLASSES), WIDTH)
    if cfg.init_weights:
        load_start(net, Path(cfg.init_weights))
        LOG.info("quality: starting from %s", cfg.init_weights)
    net = net.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, cfg.iterations))
    loss_fn = nn.CrossEntropyLoss()
    curve = []
    window_losses: list[float] = []
    net.train()
    for step in range(cfg.iterations):
        labels = rng.integers(0, len(CLASSES), cfg.batch)
        picks = rng.integers(0, len(windows), cfg.batch)
        damaged = [
            degrade_window(windows[i], int(y), cfg, rng) for i, y in zip(picks, labels, strict=True)
        ]
        crops = [
            w[margin : margin + cfg.crop, margin : margin + cfg.crop]
            for w in reencoded(damaged, cfg, rng)
        ]
        batch = to_tensor(crops).contiguous(memory_format=torch.channels_last)
        loss = loss_fn(net(batch), torch.from_numpy(labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        window_losses.append(float(loss.detach()))
        if (step + 1) % CURVE_STEPS == 0 or step == cfg.iterations - 1:
            value = float(np.mean(window_losses))
            curve.append({"iteration": step + 1, "loss": round(value, 5)})
            window_losses.clear()
            LOG.info("quality: iteration %d/%d loss %.4f", step + 1, cfg.iterations, value)
    saved = {
        "classes": list(CLASSES),
        "crop": cfg.crop,
        "width": WIDTH,
        "combine": cfg.combine,
        "state_dict": {k: v.contiguous() for k, v in net.state_dict().items()},
    }
    save_torch(saved, weights_out)
    card = {
        "classes": list(CLASSES),
        "train_videos": [s.video_id for s in train_sources],
        "val_videos": [s.video_id for s in val_sources],
        "training_windows": len(windows),
        "config": card_config(cfg),
        "seed": seed,
        "curve": curve,
        "val": validate(QualityScorer(weights_out), val_sources, cfg, seed),
    }
    LOG.info("quality: trained and validated in %.1f s", time.perf_counter() - started)
    write_json(card_out, card)
    return card


def load_start(net: QualityNet, path: Path) -> None:
    """Load the classifier of ``path`` into ``net`` (strictly), or raise a ValueError naming the
    file when it is not a classifier of this network (its classes and width)."""
    saved = read_classifier(path)
    if list(saved["classes"]) != list(CLASSES) or int(saved["width"]) != WIDTH:
        raise ValueError(
            f"{path}: quality.init_weights must be a classifier of the classes {list(CLASSES)} "
            f"and width {WIDTH}; it has {list(saved['classes'])} and width {saved['width']}"
        )
    try:
        net.load_state_dict(saved["state_dict"])
    except RuntimeError as error:
        raise ValueError(
            f"{path}: quality.init_weights does not fit the network: {error}"
        ) from error


def card_config(cfg: QualityConfig) -> dict[str, Any]:
    """The training keys as the card records them: the start weights by content, not by path."""
    config: dict[str, Any] = {
        k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items() if k != "enabled"
    }
    if cfg.init_weights:
        config["init_weights"] = {
            "file": Path(cfg.init_weights).name,
            "sha256": file_hash(cfg.init_weights, 64),
        }
    return config


def validate(
    scorer: QualityScorer, sources: Sequence[FrameSource], cfg: QualityConfig, seed: int
) -> dict[str, Any]:
    """Per-class crop accuracy and frame-level AUROC (five crops, one resize) on held-out frames.

    Every held-out frame is scored once clean and once with each degradation.
    """
    rng = np.random.default_rng([seed, 1])
    rows = []
    hits = np.zeros(len(CLASSES))
    seen = np.zeros(len(CLASSES))
    for _, _, rgb in iter_picked(sources, cfg.val_frames):
        for label in range(len(CLASSES)):
            frame = degrade_frame(rgb, label, cfg, rng) if label else rgb
            frame = reencoded([frame], cfg, rng)[0]
            rows.append((label, scorer.crop_probabilities(frame)))
            sample = make_sample(rgb, label, cfg, rng)
            hits[label] += int(scorer.probabilities([sample])[0].argmax() == label)
            seen[label] += 1
    if not rows:
        return {"frames": 0}
    labels = np.array([r[0] for r in rows])
    degraded = labels > 0
    combined = {
        how: np.array([combine_crops(p[:5], scorer.classes, how) for _, p in rows])
        for how in COMBINES
    }
    five = combined[cfg.combine]
    resize = np.array([p[5, 0] for _, p in rows])
    return {
        "frames": int(seen[0]),
        "crop_accuracy": {
            c: round(float(hits[i] / seen[i]), 4) for i, c in enumerate(CLASSES) if seen[i]
        },
        "auroc_five_crops": auroc(degraded, -five),
        "auroc_five_crops_ci95": auroc_interval(degraded, -five).bounds(),
        "auroc_resize": auroc(degraded, -resize),
        "auroc_five_crops_by_combine": {how: auroc(degraded, -v) for how, v in combined.items()},
        "auroc_five_crops_by_kind": {
            c: auroc(degraded[(labels == 0) | (labels == i)], -five[(labels == 0) | (labels == i)])
            for i, c in enumerate(CLASSES)
            if i
        },
    }
