"""The GPU slots a model job claims: the Snakemake resource ``gpu``.

``--resources gpu=N`` lets N model jobs (training, inference, evaluation) hold a GPU at once.
Where a job's model runs on the CPU the slot stands for nothing, and claiming it would only
queue CPU jobs behind each other: with ``device: cpu``, or ``device: auto`` in a local run on a
machine that shows no CUDA device, model jobs claim no slot and ``--cores`` alone limits them.
A cluster job always claims its slot, whatever the submitting host has: the node that runs it
is another machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

#: The NVIDIA driver's list of the GPUs it drives (one folder per GPU).
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def cuda_visible(environ: Mapping[str, str] | None = None, gpus: Path = NVIDIA_GPUS) -> bool:
    """Whether jobs started here see a CUDA device, read without importing torch: the NVIDIA
    driver lists a GPU and ``CUDA_VISIBLE_DEVICES`` does not hide them all."""
    environ = os.environ if environ is None else environ
    if environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    try:
        return any(gpus.iterdir())
    except OSError:
        return False


def gpu_claim(device: str, local: bool, cuda: Callable[[], bool] = cuda_visible) -> int:
    """The ``gpu`` resource of a model job under the config's ``device``.

    Args:
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        local: whether the jobs run on this machine (no cluster executor).
        cuda: tells whether this machine shows a CUDA device (asked only for a local ``auto``).

    Returns:
        0 where the model runs on the CPU (``cpu``; ``auto`` locally without CUDA), else 1.
    """
    if device == "cpu":
        return 0
    if device == "auto" and local and not cuda():
        return 0
    return 1


def cuda_device_count() -> int:
    """How many CUDA devices torch sees here (imports torch: about 2 s, asked once per run)."""
    import torch

    return torch.cuda.device_count()


def check_device(device: str, local: bool, count: Callable[[], int] = cuda_device_count) -> None:
    """Refuse a CUDA device this machine does not show, in a local run (a cluster job runs on
    another machine), before any job.

    Raises:
        ConfigError: naming the key, the device and what this machine shows.
    """
    from mosaicflow.config import ConfigError

    if not local or not device.startswith("cuda"):
        return
    index = int(device.partition(":")[2] or 0)
    shown = count()
    if index >= shown:
        seen = f"{shown} CUDA device{'s' if shown != 1 else ''}" if shown else "no CUDA device"
        raise ConfigError(
            f"config key 'device': {device!r}, but torch sees {seen} on this machine "
            "(CUDA_VISIBLE_DEVICES counts); use 'auto' or 'cpu', or submit the jobs to GPU "
            "nodes (--profile profiles/slurm)"
        )
