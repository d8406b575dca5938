"""The world rules' input lists: (video, truth video, truth JSON) triples and their labelme
splits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from mosaicflow.world.specs import LABELME_SPLIT_ROLES


def group_items(paths: Sequence[str]) -> list[tuple[str, str, str]]:
    """Regroup a flat (video, truth, truth_json, ...) list into triples."""
    if len(paths) % 3:
        raise ValueError("world items come in (video, truth, truth_json) triples")
    return [tuple(paths[i : i + 3]) for i in range(0, len(paths), 3)]  # type: ignore[misc]


def labelled_splits(paths: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
    """Group a flat world item list into train and val by each video's role (a label video
    counts as train, see ``LABELME_SPLIT_ROLES``).

    Raises:
        ValueError: a video whose role feeds no split (a test video) or a name that is not a
            world video's.
    """
    by_role = {role: split for split, roles in LABELME_SPLIT_ROLES.items() for role in roles}
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "val": []}
    for item in group_items(paths):
        name = Path(item[0]).stem
        match = re.fullmatch(r"world-([a-z]+)-[0-9]{2,}", name)
        if match is None or match.group(1) not in by_role:
            raise ValueError(f"{item[0]}: not a train, val or label video of the demo world")
        splits[by_role[match.group(1)]].append(item)
    return splits
