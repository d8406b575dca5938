"""Frame sampling spread over scenes.

A video's kept frames (``results/frames/{video}/index.parquet``) are grouped by scene; the
``n`` samples are shared out in proportion to each scene's kept frames (largest remainder, at
least one per scene while ``n`` allows), and inside a scene they sit at evenly spaced positions
shifted by one seeded random offset, so samples never bunch up in one shot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def scene_quotas(sizes: Sequence[int], n: int) -> list[int]:
    """Samples per scene: proportional to ``sizes`` (largest remainder), at least one per
    non-empty scene while ``n`` allows, never more than a scene holds.

    Args:
        sizes: kept frames per scene.
        n: samples wanted in all.

    Returns:
        One quota per scene; they sum to ``min(n, sum(sizes))``.
    """
    sizes_a = np.asarray(sizes, dtype=np.int64)
    total = int(sizes_a.sum())
    n = min(int(n), total)
    quotas = np.zeros(len(sizes_a), dtype=np.int64)
    if n <= 0:
        return quotas.tolist()
    nonempty = np.flatnonzero(sizes_a > 0)
    if n <= len(nonempty):  # one each for the n largest scenes (ties: the earlier one)
        order = sorted(nonempty, key=lambda i: (-sizes_a[i], i))
        quotas[order[:n]] = 1
        return quotas.tolist()
    share = sizes_a / total * n
    quotas = np.floor(share).astype(np.int64)
    remainder = share - quotas
    for i in sorted(range(len(sizes_a)), key=lambda i: (-remainder[i], i))[: n - quotas.sum()]:
        quotas[i] += 1
    for i in nonempty:  # every scene gets one, taken from the scene with the most
        if quotas[i] == 0:
            donor = int(np.argmax(quotas))
            quotas[donor] -= 1
            quotas[i] = 1
    return quotas.tolist()


def spread(frames: Sequence[int], k: int, rng: np.random.Generator) -> list[int]:
    """``k`` of ``frames`` (sorted) at evenly spaced positions with one random offset."""
    if k <= 0:
        return []
    if k >= len(frames):
        return list(frames)
    step = len(frames) / k
    offset = float(rng.uniform(0, step))
    positions = np.minimum((offset + step * np.arange(k)).astype(np.int64), len(frames) - 1)
    return [int(frames[p]) for p in positions]


def sample_frames(index: pd.DataFrame, n: int, rng: np.random.Generator) -> list[int]:
    """Sample ``n`` kept frames of a frame index, spread over its scenes.

    Args:
        index: a frame index with ``frame``, ``kept`` and ``scene`` columns.
        n: samples wanted (fewer when the video has fewer kept frames).
        rng: the video's generator.

    Returns:
        Sorted frame numbers.

    Raises:
        ValueError: when the index lacks a column.
    """
    missing = {"frame", "kept", "scene"} - set(index.columns)
    if missing:
        raise ValueError(f"frame index lacks the columns {sorted(missing)}")
    kept = index[index["kept"].astype(bool)]
    by_scene: Mapping[int, list[int]] = {
        int(scene): sorted(int(f) for f in group["frame"])
        for scene, group in kept.groupby("scene", sort=True)
    }
    scenes = sorted(by_scene)
    quotas = scene_quotas([len(by_scene[s]) for s in scenes], n)
    picked: list[int] = []
    for scene, quota in zip(scenes, quotas, strict=True):
        picked += spread(by_scene[scene], quota, rng)
    return sorted(picked)
