"""The reviewed corrections of the region training set, as the stages read them:
``results/review/label_overrides/overrides.json`` maps a labelme training frame (as the run names
it) to the corrected labelme file beside it (written by ``mosaicflow review import-labels``,
:mod:`mosaicflow.curate.label_import`). Kept apart from the import so that the rules reading the
overrides (build_region_dataset, find_label_issues) depend on this reader only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosaicflow.io import read_json

OVERRIDES_FILE = "overrides.json"


def read_overrides(overrides_dir: Path) -> dict[str, Any]:
    """``overrides.json`` of ``overrides_dir`` (an empty record when there is none)."""
    path = Path(overrides_dir) / OVERRIDES_FILE
    if not path.is_file():
        return {"version": 0, "frames": {}, "imports": []}
    return read_json(path)


def override_paths(overrides_dir: Path | None) -> dict[str, Path]:
    """Training frame (as the run names it) -> the labelme file that replaces it."""
    if overrides_dir is None or not (Path(overrides_dir) / OVERRIDES_FILE).is_file():
        return {}
    record = read_overrides(Path(overrides_dir))
    return {src: Path(overrides_dir) / entry["file"] for src, entry in record["frames"].items()}
