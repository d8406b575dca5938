"""Rules ``balance_detection`` and ``balance_clips``: weights.parquet of the training items and
a bucket table (target probability against the repeated list's share of every bucket)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mosaicflow.datasets.balance.tree import (
    BalanceError,
    Level,
    WeightRule,
    balance_table,
    read_weight_rules,
)
from mosaicflow.io import write_parquet, write_text

LOG = logging.getLogger(__name__)

#: Columns every weights.parquet starts with (then the balanced table's own key columns).
WEIGHT_COLUMNS = ["bucket", "bucket_items", "bucket_probability", "sample_weight", "multiplier"]
#: Key columns of the detection images and of the clips in their weights.parquet.
DETECTION_KEYS = ["image", "video", "stem"]
CLIP_KEYS = ["clip", "video"]


@dataclass(frozen=True)
class BalanceSettings:
    """The ``balance`` keys one table's job reads."""

    levels: tuple[Level, ...]
    rules: tuple[WeightRule, ...]
    max_multiply: int


@dataclass(frozen=True)
class BalanceResult:
    """What a balance job wrote: the items, buckets and the repeated list's length."""

    items: int
    buckets: int
    repeated: int


def settings(
    section: Mapping[str, Any], levels_key: str, rules_csv: str | Path | None = None
) -> BalanceSettings:
    """The settings of one table: ``section`` holds its levels (under ``levels_key``) and
    ``max_multiply``; ``rules_csv`` is the weight file (``balance.weights``), if any.

    Raises:
        BalanceError: a malformed weight file (naming it and the line).
    """
    levels = tuple(
        Level(str(level["column"]), tuple(float(e) for e in level.get("edges") or ()))
        for level in section[levels_key]
    )
    rules = tuple(read_weight_rules(Path(rules_csv))) if rules_csv else ()
    return BalanceSettings(levels, rules, int(section["max_multiply"]))


def bucket_table(weights: pd.DataFrame) -> pd.DataFrame:
    """Per bucket: items, target probability, listings in the repeated list (its items'
    multipliers summed) and their share of the list."""
    grouped = weights.groupby("bucket", sort=True)
    table = grouped.agg(
        items=("bucket_items", "first"),
        probability=("bucket_probability", "first"),
        repeats=("multiplier", "sum"),
    )
    table["repeated_share"] = (table["repeats"] / table["repeats"].sum()).round(6)
    table["probability"] = table["probability"].round(6)
    return table.reset_index()


def _write(
    weights: pd.DataFrame, keys: Sequence[str], out: Path, buckets_tsv: Path
) -> BalanceResult:
    columns = [*keys, *WEIGHT_COLUMNS]
    write_parquet(out, weights[columns].reset_index(drop=True))
    table = bucket_table(weights)
    write_text(buckets_tsv, table.to_csv(sep="\t", index=False, lineterminator="\n"))
    result = BalanceResult(len(weights), len(table), int(weights["multiplier"].sum()))
    LOG.info("%s: %s", out, result)
    return result


def balance_detection(
    samples_parquet: Path, settings_: BalanceSettings, out: Path, buckets_tsv: Path
) -> BalanceResult:
    """Weights of the detection dataset's training images (its ``samples.parquet``).

    Raises:
        BalanceError: no training images, or a level the table lacks (naming the file).
    """
    table = pd.read_parquet(samples_parquet)
    train = table[table["split"] == "train"].sort_values("image")
    if train.empty:
        raise BalanceError(f"{samples_parquet}: no training images to balance")
    try:
        weights = balance_table(train, settings_.levels, settings_.rules, settings_.max_multiply)
    except BalanceError as err:
        raise BalanceError(
            f"{samples_parquet}: {err} (config key 'balance.detection_levels')"
        ) from err
    return _write(weights, DETECTION_KEYS, out, buckets_tsv)


def balance_clips(
    index_parquet: Path, settings_: BalanceSettings, out: Path, buckets_tsv: Path
) -> BalanceResult:
    """Weights of the restoration dataset's kept training clips (its ``index.parquet``).

    Raises:
        BalanceError: no kept training clips, or a level the index lacks (naming the file).
    """
    from mosaicflow.datasets.clips.index import read_index

    index = read_index(index_parquet)
    train = index[(index["split"] == "train") & index["kept"]].sort_values("clip")
    if train.empty:
        raise BalanceError(f"{index_parquet}: no kept training clips to balance")
    try:
        weights = balance_table(train, settings_.levels, settings_.rules, settings_.max_multiply)
    except BalanceError as err:
        raise BalanceError(f"{index_parquet}: {err} (config key 'balance.clip_levels')") from err
    return _write(weights, CLIP_KEYS, out, buckets_tsv)
