"""Rule ``gather_metrics``: every stage's metrics in one file, ``results/metrics.json``.

Top-level keys are the stages (the metrics files' stems: ``region_seg``, ``detector``,
``restoration_stage1``, ``restoration_dataset``, ``evaluate``, ...; a dataset folder
contributes its ``provenance.json`` counts) next to ``version``, ``config_hash`` and
``code_hash`` (:func:`run_hashes`), so ``mosaicflow metrics-diff A.json B.json`` compares two
runs key by key (``evaluate.total.restored.psnr_mask``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaicflow.io import read_json, write_json

#: Bump when the layout of ``metrics.json`` changes.
METRICS_VERSION = 1
RESERVED = ("version", "config_hash", "code_hash")
PROVENANCE = "provenance.json"


def run_hashes(config: Mapping[str, Any]) -> tuple[str, str]:
    """``(config hash, code hash)`` of the run gathering the metrics: the whole validated config
    (without its speed settings, shipped files by place and content, so a moved checkout gives
    the same hash) and every module of the package.

    They are read when the metrics are gathered, not rule params: a params change would rerun
    ``gather_metrics`` on every config or code edit, even one no metric depends on. The file is
    rebuilt whenever a stage's metrics change, so the hashes name the run that last changed one.
    """
    from mosaicflow.config import stable_hash, without_runtime
    from mosaicflow.installed import portable
    from mosaicflow.plan.codehash import code_hash

    return stable_hash(portable(without_runtime(dict(config), ""))), code_hash("mosaicflow")


def read_stage(name: str, path: Path) -> Any:
    """A stage's metrics: the JSON file, or a dataset folder's provenance (counts and hashes).

    Raises:
        ValueError: naming the file when it is missing or not a JSON object.
    """
    path = Path(path)
    if path.is_dir():
        record = read_json(path / PROVENANCE) if (path / PROVENANCE).is_file() else None
        if not isinstance(record, dict):
            raise ValueError(f"{path}: dataset folder without a {PROVENANCE} (stage {name})")
        return {k: record.get(k) for k in ("counts", "config_hash", "code_hash", "data_hash")
                if k in record}  # fmt: skip
    if not path.is_file():
        raise ValueError(f"{path}: metrics file of stage {name} not found")
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: metrics of stage {name} must be a JSON object")
    return data


def gather_metrics(
    stages: Mapping[str, str | Path], out: Path, *, config_hash: str, code_hash: str
) -> dict[str, Any]:
    """Write ``out`` holding every stage's metrics under its name.

    Args:
        stages: stage name -> its metrics JSON (or dataset folder with a ``provenance.json``).
        out: ``results/metrics.json``.
        config_hash: hash of the run's whole (validated) config.
        code_hash: hash of the package's code.

    Returns:
        What was written.

    Raises:
        ValueError: a stage named like a reserved key, or an unreadable metrics file.
    """
    clash = sorted(set(stages) & set(RESERVED))
    if clash:
        raise ValueError(f"stage names {clash} clash with the keys of metrics.json")
    gathered: dict[str, Any] = {
        "version": METRICS_VERSION,
        "config_hash": config_hash,
        "code_hash": code_hash,
    }
    for name in sorted(stages):
        gathered[name] = read_stage(name, Path(stages[name]))
    write_json(out, gathered)
    return gathered
