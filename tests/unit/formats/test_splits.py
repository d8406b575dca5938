"""Grouped, seeded, stratified splits: no video in two splits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.formats.splits import frame_group, split_by_group, split_summary


def _items(n_groups, per_group=10):
    return [(f"v{g}", f % 3 == 0) for g in range(n_groups) for f in range(per_group)]


def group(item):
    return item[0]


def empty(item):
    return item[1]


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=25),
    seed=st.integers(0, 2**32 - 1),
    val=st.floats(0.05, 0.4),
)
def test_no_leakage_all_items_kept_deterministic(sizes, seed, val):
    items = [(f"g{g}", (g * 7 + f) % 4 == 0) for g, n in enumerate(sizes) for f in range(n)]
    fractions = {"train": 1 - val - 0.1, "val": val, "test": 0.1}
    splits = split_by_group(items, group, fractions, seed=seed, stratify_key=empty)
    groups = [{group(i) for i in members} for members in splits.values()]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not groups[a] & groups[b], "a group leaked into two splits"
    assert sorted(i for members in splits.values() for i in members) == sorted(items)
    assert splits == split_by_group(items, group, fractions, seed=seed, stratify_key=empty)
    if len(sizes) >= 3:  # every wanted split gets a group when there are enough
        assert all(splits.values())


def test_fractions_are_followed_and_stratified():
    # 20 videos: half are mostly empty, half mostly non-empty
    items = [(f"v{g}", (f < 8) == (g % 2 == 0)) for g in range(20) for f in range(10)]
    splits = split_by_group(
        items, group, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=5, stratify_key=empty
    )
    summary = split_summary(splits, group, empty)
    assert [summary[s]["items"] for s in ("train", "val", "test")] == [120, 40, 40]
    for name in ("val", "test"):
        strata = summary[name]["strata"]
        assert strata["True"] == strata["False"]  # same balance as the whole set


def test_seed_changes_the_split_but_not_the_sizes():
    items = _items(12)
    a = split_by_group(items, group, {"train": 0.75, "val": 0.25}, seed=1)
    b = split_by_group(items, group, {"train": 0.75, "val": 0.25}, seed=2)
    assert len(a["val"]) == len(b["val"]) == 30
    assert any(
        {
            group(i)
            for i in split_by_group(items, group, {"train": 0.75, "val": 0.25}, seed=s)["val"]
        }
        != {group(i) for i in a["val"]}
        for s in range(2, 12)
    )


def test_counts_of_groups():
    items = _items(8)
    splits = split_by_group(
        items, group, counts={"train": None, "val": 2, "test": 1}, seed=0, stratify_key=empty
    )
    assert [len({group(i) for i in splits[s]}) for s in ("train", "val", "test")] == [5, 2, 1]
    with pytest.raises(ValueError, match="do not fit"):
        split_by_group(items, group, counts={"train": 5, "val": 5}, seed=0)
    with pytest.raises(ValueError, match="add up"):
        split_by_group(items, group, counts={"train": 5, "val": 2}, seed=0)
    with pytest.raises(ValueError, match="sum to 1"):
        split_by_group(items, group, fractions={"train": 0.5, "val": 0.2}, seed=0)
    with pytest.raises(ValueError, match="exactly one"):
        split_by_group(items, group, seed=0)


def test_frame_group():
    assert frame_group("a/world-train-00-000012.json") == "world-train-00"
    assert frame_group("clip_7.json") == "clip"
    assert frame_group("frame.json") == "frame"
    assert frame_group("123.json") == "123"
