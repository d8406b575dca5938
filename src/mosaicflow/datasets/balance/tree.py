"""Sampling multipliers over a hierarchy of buckets.

Every item (a detection image, a restoration clip) falls into one bucket per level (region size,
block size, source video, ...); the bucket path ``level1/level2/...`` places it in a tree. Going
down the tree, the children of a node share its sampling probability in proportion to their
weights. A child's weight is the one a weight rule gives its own name, else the first rule whose
``fnmatch`` pattern matches its path, else 1. An item's sampling weight is its leaf's probability
over the leaf's item count. Its multiplier (listings in a repeated list) comes from its leaf's:
a leaf is listed its probability over the smallest per-item weight times, rounded (halves up)
and capped, and its items share those listings as evenly as whole numbers allow, so that every
leaf's share of the list is its probability to within half a listing. This is
anime_screenshot_pipeline's dataset balancing, over table columns instead of folders.
Probabilities are exact fractions until they are written.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

#: Separator of the levels in a bucket path.
SEP = "/"
HALF = Fraction(1, 2)


class BalanceError(ValueError):
    """A balance configuration or weight file that cannot be used."""


@dataclass(frozen=True)
class Level:
    """One level of the bucket tree: a table column, binned at ``edges`` when given (numbers),
    else taken as it is (names: a video, a duplicate group)."""

    column: str
    edges: tuple[float, ...] = ()

    def names(self, values: pd.Series) -> pd.Series:
        """The bucket name of every value: the value itself, or for binned levels
        ``<column><lo`` / ``<column>lo-hi`` / ``<column>>=hi`` (lo inclusive, hi exclusive)."""
        if not self.edges:
            return values.astype(str)
        edges = self.edges
        if list(edges) != sorted(set(edges)):
            raise BalanceError(f"balance level {self.column!r}: edges must increase, got {edges}")
        labels = [f"{self.column}<{edges[0]:g}"]
        labels += [f"{self.column}{lo:g}-{hi:g}" for lo, hi in pairwise(edges)]
        labels.append(f"{self.column}>={edges[-1]:g}")
        numbers = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
        if (~pd.notna(numbers)).any():
            raise BalanceError(f"balance level {self.column!r}: the column has missing values")
        slots = [int(sum(x >= e for e in edges)) for x in numbers]
        return pd.Series([labels[s] for s in slots], index=values.index, dtype=str)


@dataclass(frozen=True)
class WeightRule:
    """A bucket weight: for the bucket named ``pattern``, else for buckets whose path matches it."""

    pattern: str
    weight: Fraction


def read_weight_rules(path: Path) -> list[WeightRule]:
    """Weight rules from a CSV of ``name_or_pattern,weight`` rows (no header; ``#`` comments).

    Raises:
        BalanceError: a row without two fields or with a weight that is not a number >= 0,
            naming the file and the line.
    """
    rules: list[WeightRule] = []
    with path.open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            fields = [field.strip() for field in row]
            if not fields or not any(fields) or fields[0].startswith("#"):
                continue
            if len(fields) != 2 or not fields[0]:
                raise BalanceError(f"{path}, line {line_no}: expected 'name_or_pattern,weight'")
            try:
                weight = Fraction(fields[1])
            except (ValueError, ZeroDivisionError):
                raise BalanceError(
                    f"{path}, line {line_no}: weight {fields[1]!r} is not a number"
                ) from None
            if weight < 0:
                raise BalanceError(f"{path}, line {line_no}: weight {fields[1]} is negative")
            rules.append(WeightRule(fields[0], weight))
    return rules


def bucket_weight(name: str, path: str, rules: Sequence[WeightRule]) -> Fraction:
    """The weight of the bucket ``name`` at ``path``: by its name, else by the first pattern
    matching its path, else 1."""
    for rule in rules:
        if rule.pattern == name:
            return rule.weight
    for rule in rules:
        if fnmatchcase(path, rule.pattern):
            return rule.weight
    return Fraction(1)


def leaf_probabilities(
    leaves: Sequence[str], rules: Sequence[WeightRule] = ()
) -> dict[str, Fraction]:
    """The sampling probability of every leaf bucket path (all of the same depth).

    Raises:
        BalanceError: no leaves, leaves of different depths, or a node whose children all
            weigh 0.
    """
    paths = sorted(set(leaves))
    if not paths:
        raise BalanceError("nothing to balance: no items")
    depths = {len(p.split(SEP)) for p in paths}
    if len(depths) != 1:
        raise BalanceError(f"bucket paths of different depths: {sorted(depths)}")
    probabilities: dict[str, Fraction] = {}

    def descend(prefix: tuple[str, ...], probability: Fraction, below: list[tuple[str, ...]]):
        if not below[0][len(prefix) :]:
            probabilities[SEP.join(prefix)] = probability
            return
        children: dict[str, list[tuple[str, ...]]] = {}
        for parts in below:
            children.setdefault(parts[len(prefix)], []).append(parts)
        weights = {name: bucket_weight(name, SEP.join((*prefix, name)), rules) for name in children}
        total = sum(weights.values())
        if total == 0:
            where = SEP.join(prefix) or "the root"
            raise BalanceError(f"every bucket under {where} has weight 0")
        for name, parts in children.items():
            descend((*prefix, name), probability * weights[name] / total, parts)

    descend((), Fraction(1), [tuple(p.split(SEP)) for p in paths])
    return probabilities


def bucket_repeats(
    counts: Mapping[str, int], probabilities: Mapping[str, Fraction], max_multiply: int
) -> dict[str, int]:
    """Listings of every leaf in the repeated list: its probability over the smallest non-zero
    per-item weight ``p / n`` (so each of that leaf's items is listed once), rounded halves up,
    at most ``max_multiply`` per item (a leaf of weight 0: 0). A leaf's share of the list is
    then its probability to within half a listing."""
    per_item = {leaf: probabilities[leaf] / counts[leaf] for leaf in counts}
    positive = [w for w in per_item.values() if w > 0]
    if not positive:
        raise BalanceError("every bucket has weight 0")
    smallest = min(positive)
    return {
        leaf: min(max_multiply * counts[leaf], math.floor(probabilities[leaf] / smallest + HALF))
        if per_item[leaf] > 0
        else 0
        for leaf in counts
    }


def spread(total: int, items: int) -> list[int]:
    """``total`` listings over ``items`` items in order: each gets ``total // items``, the first
    ``total % items`` one more."""
    base, extra = divmod(total, items)
    return [base + 1] * extra + [base] * (items - extra)


def balance_table(
    table: pd.DataFrame,
    levels: Sequence[Level],
    rules: Sequence[WeightRule] = (),
    max_multiply: int = 250,
) -> pd.DataFrame:
    """Bucket, probability, sampling weight and multiplier of every row of ``table``.

    Adds ``bucket`` (the path), ``bucket_items``, ``bucket_probability`` (the leaf's share of
    the sampled stream), ``sample_weight`` (per item: probability / items; the weights of a
    weighted sampler) and ``multiplier`` (repeats in a repeated list: the leaf's
    :func:`bucket_repeats` spread over its items in table order) to a copy of ``table``.

    Raises:
        BalanceError: no levels, a level column the table lacks, or see
            :func:`leaf_probabilities`.
    """
    if not levels:
        raise BalanceError("balance needs at least one level")
    missing = [level.column for level in levels if level.column not in table.columns]
    if missing:
        raise BalanceError(f"balance levels name columns the table lacks: {missing}")
    out = table.copy()
    names = [level.names(out[level.column]) for level in levels]
    out["bucket"] = [SEP.join(parts) for parts in zip(*names, strict=True)]
    counts = out["bucket"].value_counts().to_dict()
    probabilities = leaf_probabilities(list(counts), rules)
    listings = bucket_repeats(counts, probabilities, max_multiply)
    out["bucket_items"] = out["bucket"].map(counts).astype(int)
    out["bucket_probability"] = out["bucket"].map(lambda b: float(probabilities[b]))
    out["sample_weight"] = out["bucket"].map(lambda b: float(probabilities[b] / counts[b]))
    position = out.groupby("bucket", sort=False).cumcount().to_numpy()
    shares = {b: spread(listings[b], counts[b]) for b in counts}
    out["multiplier"] = np.array(
        [shares[b][i] for b, i in zip(out["bucket"], position, strict=True)], dtype=np.int64
    )
    return out


def bucket_shares(table: pd.DataFrame, drawn: Sequence[int]) -> pd.DataFrame:
    """Each bucket's target probability against its share of the drawn row positions."""
    drawn_buckets = table["bucket"].to_numpy()[list(drawn)]
    share = pd.Series(drawn_buckets).value_counts(normalize=True)
    targets = table.groupby("bucket")["bucket_probability"].first()
    return pd.DataFrame(
        {"target": targets, "drawn": share.reindex(targets.index).fillna(0.0)}
    ).rename_axis("bucket")
