"""Split the detection samples by source video: no video in two splits.

With the demo world each video's role decides (``train``, ``val``, ``test``); otherwise
:func:`mosaicflow.formats.splits.split_by_group` shares the videos out by the configured
fractions, stratified by positive / negative so every split sees both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mosaicflow.datasets.detection.config import DetectionSplitConfig

SPLITS = ("train", "val", "test")
#: Demo world role -> split (videos of other roles train).
ROLE_SPLITS = {"train": "train", "val": "val", "test": "test"}


def split_samples(
    samples: Sequence[Mapping[str, Any]],
    cfg: DetectionSplitConfig,
    *,
    roles: Mapping[str, str] | None,
    seed: int,
) -> dict[str, list[Mapping[str, Any]]]:
    """Split samples (each with ``video`` and ``positive``) into train, val and test.

    Args:
        samples: the samples of every video.
        cfg: ``detection_dataset.split`` (used without ``roles``).
        roles: video id -> demo world role, or None for user videos.
        seed: the config's seed (tie-breaking order of the videos).

    Returns:
        Split name -> samples (input order kept).
    """
    if roles is not None:
        unknown = sorted({s["video"] for s in samples} - set(roles))
        if unknown:
            raise ValueError(f"no world role for the videos {unknown}")
        out: dict[str, list[Mapping[str, Any]]] = {name: [] for name in SPLITS}
        for sample in samples:
            out[ROLE_SPLITS.get(roles[sample["video"]], "train")].append(sample)
        return out
    from mosaicflow.formats.splits import split_by_group

    fractions = {"train": 1.0 - cfg.val - cfg.test, "val": cfg.val, "test": cfg.test}
    return split_by_group(
        samples,
        group_key=lambda s: s["video"],
        fractions=fractions,
        seed=seed,
        stratify_key=lambda s: bool(s["positive"]),
    )
