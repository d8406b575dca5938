"""Shared helpers for the benchmarks: record ratios and PASS/FAIL verdicts in one JSON file.

Each benchmark calls ``record(name, {...})``; entries of other benchmarks are kept, so
``results/bench.json`` gathers the latest figures of every benchmark that ran.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from mosaicflow.io import write_json

DEFAULT_OUT = Path("results/bench.json")


def verdict(
    value: float, goal: float, floor: float | None = None, higher_is_better: bool = True
) -> str:
    """PASS if the goal is met, WARN if only the floor is met, FAIL otherwise."""
    better = (lambda a, b: a >= b) if higher_is_better else (lambda a, b: a <= b)
    if better(value, goal):
        return "PASS"
    if floor is not None and better(value, floor):
        return "WARN"
    return "FAIL"


def record(name: str, entry: dict[str, Any], out: Path = DEFAULT_OUT) -> dict[str, Any]:
    """Merge ``entry`` under ``name`` into the benchmark JSON file and print it."""
    data = json.loads(out.read_text()) if out.exists() else {}
    entry = {
        **entry,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.node()} {platform.machine()}",
    }
    data[name] = entry
    write_json(out, data)
    print(json.dumps({name: entry}, indent=2))
    return entry
