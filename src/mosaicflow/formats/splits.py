"""Deterministic, grouped, stratified dataset splits.

Items are split by group (the source video): every group lands in exactly one split, so no
video leaks between train, val and test. Greedy and seeded: the split furthest below its target
size (items for fractions, groups for counts) takes the group that brings its per-stratum item
counts closest to its targets (L1 distance; ties broken by a seeded random order of the groups),
so sizes follow the fractions and the empty / non-empty balance of every split follows the
whole set as far as whole groups allow.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_FRAME_SUFFIX = re.compile(r"[-_.]?\d+$")


def frame_group(path: str | Path) -> str:
    """Group (source video) of a frame file: its stem without the trailing frame number.

    ``world-train-00-000012.json`` -> ``world-train-00``; a stem without a trailing number is
    its own group.
    """
    stem = Path(path).stem
    return _FRAME_SUFFIX.sub("", stem) or stem


def split_by_group(
    items: Sequence[T],
    group_key: Callable[[T], Hashable],
    fractions: Mapping[str, float] | None = None,
    counts: Mapping[str, int | None] | None = None,
    seed: int = 0,
    stratify_key: Callable[[T], Hashable] | None = None,
) -> dict[str, list[T]]:
    """Split items so that no group is in two splits.

    Args:
        items: the items (e.g. labelme files).
        group_key: item -> group (e.g. source video id).
        fractions: split name -> fraction of the items (must sum to 1 within 1e-6); the split
            sizes follow them as closely as whole groups allow.
        counts: split name -> number of groups; at most one split may be ``None`` ("the
            rest"). Exactly one of ``fractions`` and ``counts`` must be given.
        seed: seed of the tie-breaking order (``numpy.random.default_rng``).
        stratify_key: item -> stratum (e.g. empty or not); each split's strata then follow the
            proportions of the whole set as far as whole groups allow.

    Returns:
        Split name -> items, in the order of ``fractions``/``counts``; items keep their input
        order. A split with fraction > 0 gets at least one group when there are enough groups.

    Raises:
        ValueError: on invalid fractions or counts.
    """
    if (fractions is None) == (counts is None):
        raise ValueError("give exactly one of fractions and counts")
    groups: dict[Hashable, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(group_key(item), []).append(i)
    keys = sorted(groups, key=repr)
    strata = sorted({stratify_key(it) for it in items} if stratify_key else {None}, key=repr)
    s_index = {s: k for k, s in enumerate(strata)}
    comp = np.zeros((len(keys), len(strata)))
    for g, key in enumerate(keys):
        for i in groups[key]:
            comp[g, s_index[stratify_key(items[i]) if stratify_key else None]] += 1
    total = comp.sum(0)

    if fractions is not None:
        names = list(fractions)
        share = np.array([float(fractions[n]) for n in names])
        if (share < 0).any() or abs(share.sum() - 1.0) > 1e-6:
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {dict(fractions)}")
        slots = None
    else:
        assert counts is not None
        names = list(counts)
        rest = [n for n in names if counts[n] is None]
        if len(rest) > 1:
            raise ValueError("at most one split may take the rest (count None)")
        fixed = {n: int(c) for n, c in counts.items() if c is not None}
        if any(c < 0 for c in fixed.values()) or sum(fixed.values()) > len(keys):
            raise ValueError(f"split counts {dict(counts)} do not fit {len(keys)} groups")
        if not rest and sum(fixed.values()) != len(keys):
            raise ValueError(f"split counts {dict(counts)} must add up to {len(keys)} groups")
        slots = np.array(
            [fixed.get(n, len(keys) - sum(fixed.values())) for n in names], dtype=np.int64
        )
        share = slots / max(len(keys), 1)
    target = share[:, None] * total[None, :]

    rng = np.random.default_rng(seed)
    remaining = [int(g) for g in rng.permutation(len(keys))]
    current = np.zeros_like(target)
    taken = np.zeros(len(names), dtype=np.int64)
    wanted = share > 0
    assignment: dict[Hashable, int] = {}
    while remaining:
        # the split furthest below its target takes the next group
        if slots is None:
            fill = np.where(wanted, current.sum(1) / np.maximum(target.sum(1), 1e-9), np.inf)
        else:
            fill = np.where(taken < slots, taken / np.maximum(slots, 1), np.inf)
        if not np.isfinite(fill).any():  # only zero-fraction splits left: cannot happen
            fill = np.zeros(len(names))
        best = int(np.argmin(fill))
        # ... and picks the group that brings its per-stratum counts closest to the targets
        comps = comp[remaining]
        before = np.abs(current[best] - target[best]).sum()
        cost = np.abs(current[best] + comps - target[best]).sum(1) - before
        pick = remaining.pop(int(np.argmin(cost)))  # ties: the seeded order
        assignment[keys[pick]] = best
        current[best] += comp[pick]
        taken[best] += 1
    out: dict[str, list[T]] = {n: [] for n in names}
    for item in items:
        out[names[assignment[group_key(item)]]].append(item)
    return out


def split_summary(
    splits: Mapping[str, Sequence[T]],
    group_key: Callable[[T], Hashable],
    stratify_key: Callable[[T], Hashable] | None = None,
) -> dict[str, dict[str, object]]:
    """Counts per split (items, groups, and items per stratum) for provenance and logs."""
    summary: dict[str, dict[str, object]] = {}
    for name, members in splits.items():
        entry: dict[str, object] = {
            "items": len(members),
            "groups": len({group_key(m) for m in members}),
        }
        if stratify_key is not None:
            strata = Counter(map(stratify_key, members))
            entry["strata"] = {str(k): v for k, v in sorted(strata.items(), key=repr)}
        summary[name] = entry
    return summary


#: Splits from the most held out to the least: a duplicate group spanning several takes the first.
HELD_OUT_ORDER = ("test", "val", "train")


def unify_group_splits(split_of: Mapping[str, str], group_of: Mapping[str, str]) -> dict[str, str]:
    """Put every member of a group into one split: the most held out of its members' splits
    (test, then val, then train), so no copy of an evaluation source trains.

    Args:
        split_of: item (video) -> split.
        group_of: item -> group (items it does not list are their own group).
    """
    rank = {name: k for k, name in enumerate(HELD_OUT_ORDER)}
    chosen: dict[str, str] = {}
    for item, split in split_of.items():
        group = group_of.get(item, item)
        if group not in chosen or rank.get(split, len(rank)) < rank.get(chosen[group], len(rank)):
            chosen[group] = split
    return {item: chosen[group_of.get(item, item)] for item in split_of}


def follow_pinned_groups(
    pinned: Mapping[str, str], others: Sequence[str], group_of: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Give the items without a split the split of their group's pinned members.

    Args:
        pinned: item -> split for the items whose split is given (e.g. by a role).
        others: the items without one.
        group_of: item -> group (items it does not list are their own group).

    Returns:
        ``(split_of, free)``: every pinned item and every other item of a group with a pinned
        member -> the group's split (the most held out of its pinned members'); the remaining
        items, in input order, to be split by fractions.
    """
    split_of = unify_group_splits(pinned, group_of)
    of_group = {group_of.get(item, item): split for item, split in split_of.items()}
    free = []
    for item in others:
        group = group_of.get(item, item)
        if group in of_group:
            split_of[item] = of_group[group]
        else:
            free.append(item)
    return split_of, free
