"""Shared fixtures of the restoration tests: the reference folder beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference folder ``REFERENCE`` beside the checkout; skip the test when it is missing."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference folder missing: {REFERENCE.resolve()} (clone shared/ beside repo)")
    return REFERENCE


def _read_key_table(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in path.read_text().splitlines()[1:]:
        key, shape = line.split("\t")
        dims = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
        rows.append((key, dims))
    return rows


@pytest.fixture(scope="session")
def key_table(reference_dir: Path):
    """``key_table(name)``: rows (key, shape) of a reference key table (TSV with a header)."""
    return lambda name: _read_key_table(reference_dir / name)
