"""Set-up shared by the rule scripts: logging to the rule's log file and thread limits.

Torch, OpenCV and BLAS use exactly the rule's ``threads``, so results and speed do not depend
on where a job ran (laptop, GPU box or cluster node).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def set_threads(threads: int) -> None:
    """Limit torch, OpenCV and BLAS/OpenMP to ``threads`` threads in this process."""
    threads = max(1, int(threads))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "cv2" in sys.modules or _importable("cv2"):
        import cv2

        cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def setup(smk: Any) -> logging.Logger:
    """Configure a rule script: log to ``smk.log[0]`` (and stderr), set thread limits.

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
    return logging.getLogger(f"mosaicflow.rule.{smk.rule}")
