"""Set-up shared by the rule scripts: logging to the rule's log file and thread limits.

Torch, OpenCV and BLAS use exactly the rule's ``threads``, so results and speed do not depend
on where a job ran (laptop, GPU box or cluster node). An exception that ends the script is
logged (message and traceback) to the job's log file as well as to the terminal, where the
user reading ``results/logs/<rule>/`` looks for it.
"""

from __future__ import annotations

import logging
import os
import sys
from types import TracebackType
from typing import Any

from mosaicflow.process import skip_final_collection
from mosaicflow.threads import set_threads

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(smk: Any) -> logging.Logger:
    """Configure a rule script: log to ``smk.log[0]`` (and stderr), log an uncaught exception
    there too (:func:`log_uncaught`), set thread limits, and end the job without a last garbage
    collection (:mod:`mosaicflow.process`).

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
    logger = logging.getLogger(f"mosaicflow.rule.{smk.rule}")
    log_uncaught(logger, str(smk.rule))
    set_threads(smk.threads)
    skip_final_collection()
    return logger


def log_uncaught(logger: logging.Logger, rule: str) -> None:
    """Make an exception that ends the process a log record of ``logger``: its message and
    traceback reach every handler (the job's log file and stderr) instead of stderr alone. The
    process still exits with status 1 (Python's own rule for an uncaught exception).

    Args:
        logger: the rule's logger.
        rule: the rule's name (opens the record).
    """

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        logger.error("rule %s failed: %s: %s", rule, kind.__name__, error,
                     exc_info=(kind, error, trace))  # fmt: skip
        for handler in logger.handlers + logging.getLogger().handlers:
            handler.flush()

    sys.excepthook = hook


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
