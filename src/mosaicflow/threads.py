"""The CPU threads a job may use, for torch, OpenCV and the BLAS/OpenMP libraries.

Imports neither torch nor OpenCV itself: a job that never loads them does not pay for them.
"""

from __future__ import annotations

import os
import sys


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
