"""``resources/`` holds small shipped assets only, and the restorer base within its own cap."""

from __future__ import annotations

from pathlib import Path

from mosaicflow.restore.base import BASE_DIR
from mosaicflow.restore.base import MAX_BYTES as BASE_MAX_BYTES

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
MAX_BYTES = 1 << 20


def test_resources_are_documented_and_small():
    assert (RESOURCES / "README.md").is_file()
    local = RESOURCES / "local"  # git-ignored: the user's own files
    shipped = [p for p in RESOURCES.rglob("*") if p.is_file() and local not in p.parents]
    base = BASE_DIR / "generator.pth"  # the one file over the cap (resources/README.md)
    large = [str(p) for p in shipped if p != base and p.stat().st_size > MAX_BYTES]
    assert not large, f"resources/ is for small assets; move these out: {large}"
    assert base.stat().st_size <= BASE_MAX_BYTES
