"""``resources/`` holds small shipped assets only."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
MAX_BYTES = 1 << 20


def test_resources_are_documented_and_small():
    assert (RESOURCES / "README.md").is_file()
    local = RESOURCES / "local"  # git-ignored: the user's own files
    shipped = [p for p in RESOURCES.rglob("*") if p.is_file() and local not in p.parents]
    large = [str(p) for p in shipped if p.stat().st_size > MAX_BYTES]
    assert not large, f"resources/ is for small assets; move these out: {large}"
