"""Split the detection samples by source video: no video in two splits.

A video with a role (every demo-world video; a user's video that its sheet gives ``train``,
``val`` or ``test``) goes to that split; :func:`mosaicflow.formats.splits.split_by_group` shares
the other videos out by the configured fractions, stratified by positive / negative so every
split sees both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mosaicflow.datasets.detection.config import DetectionSplitConfig
from mosaicflow.formats.splits import follow_pinned_groups

SPLITS = ("train", "val", "test")
#: Demo world role -> split (videos of other roles train).
ROLE_SPLITS = {"train": "train", "val": "val", "test": "test"}


def split_samples(
    samples: Sequence[Mapping[str, Any]],
    cfg: DetectionSplitConfig,
    *,
    roles: Mapping[str, str] | None,
    seed: int,
    groups: Mapping[str, str] | None = None,
) -> dict[str, list[Mapping[str, Any]]]:
    """Split samples (each with ``video`` and ``positive``) into train, val and test.

    Args:
        samples: the samples of every video.
        cfg: ``detection_dataset.split`` (the fractions of the videos without a role).
        roles: video id -> role for the videos whose split is fixed (the others are split by
            ``cfg``), or None.
        seed: the config's seed (tie-breaking order of the videos).
        groups: video id -> duplicate group (rule find_duplicates): a group's videos share one
            split: that of its members with a role (the most held out), else the one drawn.

    Returns:
        Split name -> samples (input order kept).
    """
    roles = roles or {}
    group_of = dict(groups or {})
    pinned = {video: ROLE_SPLITS.get(role, "train") for video, role in roles.items()}
    videos = list(dict.fromkeys(sample["video"] for sample in samples))
    split_of, free = follow_pinned_groups(pinned, [v for v in videos if v not in pinned], group_of)
    free_videos = set(free)
    rest = [sample for sample in samples if sample["video"] in free_videos]
    if rest:
        from mosaicflow.formats.splits import split_by_group

        fractions = {"train": 1.0 - cfg.val - cfg.test, "val": cfg.val, "test": cfg.test}
        shared = split_by_group(
            rest,
            group_key=lambda s: group_of.get(s["video"], s["video"]),
            fractions=fractions,
            seed=seed,
            stratify_key=lambda s: bool(s["positive"]),
        )
        for split, members in shared.items():
            split_of.update({sample["video"]: split for sample in members})
    out: dict[str, list[Mapping[str, Any]]] = {name: [] for name in SPLITS}
    for sample in samples:
        out[split_of[sample["video"]]].append(sample)
    return out
