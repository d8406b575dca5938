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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CudaGpu:
    """One CUDA device as torch shows it: its name and compute capability (major, minor)."""

    index: int
    name: str
    capability: tuple[int, int]


def cuda_gpu(index: int) -> CudaGpu:
    """The name and compute capability of CUDA device ``index`` (torch asks the driver)."""
    import torch

    major, minor = torch.cuda.get_device_capability(index)
    return CudaGpu(index, torch.cuda.get_device_name(index), (major, minor))


_PROBE = (
    "import json, sys; from mosaicflow.plan.gpu import cuda_gpu; "
    "found = cuda_gpu(int(sys.argv[1])); print(json.dumps([found.name, found.capability]))"
)


def cuda_gpu_apart(index: int) -> CudaGpu | None:
    """:func:`cuda_gpu` asked in a child process, so that the asking process (Snakemake's, alive
    for the whole run) holds no CUDA context and its GPU memory; None where the child fails."""
    import json
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, str(index)], capture_output=True,
                              text=True, timeout=300, check=True)  # fmt: skip
        name, (major, minor) = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None
    return CudaGpu(index, str(name), (int(major), int(minor)))


def torch_arch_list() -> list[str]:
    """The GPU code this torch build carries (``sm_75``: binaries, ``compute_90``: PTX)."""
    import torch

    return list(torch.cuda.get_arch_list())


def runs_on(capability: tuple[int, int], arch_list: Sequence[str]) -> bool:
    """Whether a torch build carrying ``arch_list`` runs kernels on a GPU of ``capability``:
    a binary ``sm_XY`` runs on the same major version from minor Y up, PTX ``compute_XY`` on any
    GPU from X.Y up. An empty list (a CPU build) runs on none."""
    major, minor = capability
    for arch in arch_list:
        kind, _, version = arch.partition("_")
        digits = version.rstrip("af")
        if not digits.isdigit():
            continue
        code = int(digits)
        if kind == "sm" and code // 10 == major and code % 10 <= minor:
            return True
        if kind == "compute" and code <= 10 * major + minor:
            return True
    return False


def check_device(
    device: str,
    local: bool,
    count: Callable[[], int] = cuda_device_count,
    gpu: Callable[[int], CudaGpu | None] = cuda_gpu_apart,
    arch_list: Callable[[], list[str]] = torch_arch_list,
    visible: Callable[[], bool] = cuda_visible,
) -> None:
    """Refuse, in a local run (a cluster job runs on another machine) and before any job, a
    CUDA device this machine does not show, and a GPU that ``device`` picks (``auto``: the first
    one) but this torch build has no kernels for (an older GPU than the build supports).
    ``count``, ``gpu``, ``arch_list`` and ``visible`` ask torch and the driver; tests pass
    their own.

    Raises:
        ConfigError: naming the key, the device and what this machine shows.
    """
    from mosaicflow.config import ConfigError

    if not local or not (device.startswith("cuda") or device == "auto"):
        return
    if device == "auto" and not visible():  # no GPU driver: torch is not even imported
        return
    index = int(device.partition(":")[2] or 0)
    shown = count()
    if device == "auto" and not shown:
        return
    if index >= shown:
        seen = f"{shown} CUDA device{'s' if shown != 1 else ''}" if shown else "no CUDA device"
        raise ConfigError(
            f"config key 'device': {device!r}, but torch sees {seen} on this machine "
            "(CUDA_VISIBLE_DEVICES counts); use 'auto' or 'cpu', or submit the jobs to GPU "
            "nodes (--profile profiles/slurm)"
        )
    found = gpu(index)
    problem = unsupported_gpu(found, arch_list()) if found else None
    if problem:
        picks = f"picks cuda:{index}, " if device == "auto" else ""
        raise ConfigError(
            f"config key 'device': {device!r} {picks}{problem}; set 'device: cpu', or install "
            "a torch build for this GPU"
        )


def unsupported_gpu(found: CudaGpu, arch_list: Sequence[str]) -> str | None:
    """Why torch cannot run on ``found`` with a build carrying ``arch_list`` (None: it can)."""
    if runs_on(found.capability, arch_list):
        return None
    major, minor = found.capability
    return (
        f"{found.name} (compute capability {major}.{minor}), which this torch build has no "
        f"kernels for (it carries {' '.join(arch_list) or 'no GPU code'})"
    )
