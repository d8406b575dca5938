"""Set-up shared by the rule scripts: logging to the rule's log file and thread limits.

Torch, OpenCV and BLAS use exactly the rule's ``threads``, so results and speed do not depend
on where a job ran (laptop, GPU box or cluster node).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from mosaicflow.process import skip_final_collection
from mosaicflow.threads import set_threads

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(smk: Any) -> logging.Logger:
    """Configure a rule script: log to ``smk.log[0]`` (and stderr), set thread limits, and end
    the job without a last garbage collection (:mod:`mosaicflow.process`).

    Args:
        smk: the ``snakemake`` object Snakemake injects into scripts.

    Returns:
        The logger for the rule (named after it).
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if smk.log:
        os.makedirs(os.path.dirname(os.path.abspath(smk.log[0])), exist_ok=True)
        handlers.append(logging.FileHandler(smk.log[0], mode="w", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, handlers=handlers, force=True)
    set_threads(smk.threads)
    skip_final_collection()
    return logging.getLogger(f"mosaicflow.rule.{smk.rule}")


def runtime_setting(smk: Any, dotted: str) -> Any:
    """A speed setting (an ``x-runtime`` key of config/schema.yaml, ``"frames.decode_threads"``)
    from the job's validated config. Rules keep these out of their params, so changing one
    reruns nothing; the script reads it here.

    Raises:
        KeyError: ``dotted`` is not a speed setting (naming it).
    """
    from mosaicflow.config import runtime_keys

    if dotted not in runtime_keys():
        raise KeyError(f"{dotted} is not an x-runtime key of config/schema.yaml")
    value = smk.config
    for part in dotted.split("."):
        value = value[part]
    return value
