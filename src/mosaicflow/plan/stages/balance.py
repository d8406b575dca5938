"""Balance (``balance.smk``): sampling weights of the detection images and of the restoration
clips over the buckets of ``balance.*_levels``."""

from __future__ import annotations

from typing import Any

from mosaicflow.config import canonical
from mosaicflow.plan import paths
from mosaicflow.plan.run import Run


def enabled(run: Run) -> bool:
    """There is a detection dataset or a clip dataset to weigh."""
    return "detector" in run.facts.trained_models or "region_seg" in run.facts.models


def outputs(run: Run) -> list[str]:
    """The weights and bucket tables of the detection images and of the clips."""
    files: list[str] = []
    if "detector" in run.facts.trained_models:
        files += list(paths.balance_files("detection").values())
    if "region_seg" in run.facts.models:
        files += list(paths.balance_files("clips").values())
    return files


def params(run: Run, levels_key: str) -> dict[str, Any]:
    """The ``balance`` keys read by a balance job (its levels and ``max_multiply``)."""
    section = run.config["balance"]
    return canonical({levels_key: section[levels_key], "max_multiply": section["max_multiply"]})


# -- input functions of the rules -------------------------------------------------------------
def balance_rules(run: Run, wildcards: Any) -> dict[str, str]:
    """The bucket weight file (``balance.weights``), when there is one."""
    weights = run.config["balance"]["weights"]
    return {"rules": weights} if weights else {}
