"""What moved between two metrics files (``mosaicflow metrics-diff``), like ``dvc metrics diff``.

Both files are flattened to dotted keys (``evaluate.videos.0.psnr_mask``; list items by index).
A row per key that differs: the old and new value, the change and the relative change in
percent for numbers (``None`` when the old value is 0 or a side is missing or not a number).
Booleans and strings are compared but have no change column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaicflow.io import read_json

#: Shown for a missing value or an undefined change.
MISSING = "-"


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested dicts and lists under dotted keys (an empty container is a leaf)."""
    if isinstance(obj, Mapping) and obj:
        items = ((str(k), v) for k, v in obj.items())
    elif isinstance(obj, list) and obj:
        items = ((str(i), v) for i, v in enumerate(obj))
    else:
        return {prefix: obj}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    return flat


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class MetricChange:
    """One key that differs between the two files.

    Attributes:
        key: dotted key.
        old, new: values (``None`` when the key is absent on that side: see ``status``).
        change: ``new - old`` when both are numbers.
        percent: ``100 * change / |old|`` when both are numbers and ``old`` is not 0.
        status: ``changed``, ``added`` or ``removed``.
    """

    key: str
    old: Any
    new: Any
    change: float | None
    percent: float | None
    status: str


def diff_metrics(
    old: Mapping[str, Any], new: Mapping[str, Any], show_all: bool = False
) -> list[MetricChange]:
    """The keys whose values differ (all keys with ``show_all``), sorted by key."""
    flat_old, flat_new = flatten(dict(old)), flatten(dict(new))
    rows = []
    for key in sorted(set(flat_old) | set(flat_new)):
        in_old, in_new = key in flat_old, key in flat_new
        a, b = flat_old.get(key), flat_new.get(key)
        status = "changed" if in_old and in_new else ("added" if in_new else "removed")
        if status == "changed" and _same(a, b) and not show_all:
            continue
        x, y = _number(a), _number(b)
        change = percent = None
        if status == "changed" and x is not None and y is not None:
            change = y - x
            percent = 100.0 * change / abs(x) if x != 0 and math.isfinite(x) else None
        rows.append(MetricChange(key, a, b, change, percent, status))
    return rows


def _same(a: Any, b: Any) -> bool:
    """Equal values of one type; two NaNs are the same (a metric that stays undefined)."""
    if type(a) is not type(b):
        return False
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _fmt(value: Any, precision: int, signed: bool = False) -> str:
    if value is None:
        return MISSING
    number = _number(value)
    if number is None:
        return str(value)
    if isinstance(value, int) and not signed:
        return str(value)
    text = f"{number:+.{precision}g}" if signed else f"{number:.{precision}g}"
    return text


def format_table(rows: list[MetricChange], precision: int = 5) -> str:
    """A plain-text table: ``Metric  Old  New  Change  %`` (absent values and undefined
    changes shown as ``-``)."""
    header = ("Metric", "Old", "New", "Change", "%")
    lines = [
        (
            row.key,
            MISSING if row.status == "added" else _fmt(row.old, precision),
            MISSING if row.status == "removed" else _fmt(row.new, precision),
            _fmt(row.change, precision, signed=True),
            MISSING if row.percent is None else f"{row.percent:+.2f}%",
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()
        for cells in [header, *lines]
    )


def metrics_diff(
    old_path: str | Path, new_path: str | Path, show_all: bool = False
) -> list[MetricChange]:
    """Read two metrics JSON files and diff them.

    Raises:
        ValueError: a file is malformed or not a JSON object (names it).
        OSError: a file cannot be read.
    """
    docs = []
    for path in (old_path, new_path):
        doc = read_json(path)
        if not isinstance(doc, Mapping):
            raise ValueError(f"{path}: a metrics file must hold a JSON object")
        docs.append(doc)
    return diff_metrics(docs[0], docs[1], show_all)
