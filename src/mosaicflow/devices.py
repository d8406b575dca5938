"""The config's ``device`` (``auto``, ``cpu``, ``cuda`` or ``cuda:N``) for torch and ultralytics.

One resolver for every model: training and inference, YOLO and BasicVSR++, read the same names
and refuse the same mistakes (CUDA asked for on a machine without it, an unknown name).
"""

from __future__ import annotations

import re

import torch

_CUDA = re.compile(r"^cuda(?::(\d+))?$")


class DeviceError(ValueError):
    """A device name that cannot be used here (names it and why)."""


def torch_device(name: str | torch.device) -> torch.device:
    """The torch device of ``name``: ``auto`` is the first CUDA device if there is one, else the
    CPU.

    Raises:
        DeviceError: CUDA asked for but not available, or an unknown name.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = _CUDA.match(name)
    if match is None:
        raise DeviceError(f"unknown device {name!r} (auto, cpu, cuda or cuda:N)")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} requested but CUDA is not available")
    return torch.device(f"cuda:{match.group(1) or 0}")


def ultralytics_device(name: str) -> str:
    """The ultralytics ``device=`` string of ``name``: ``cpu`` or the CUDA index (``"0"``)."""
    device = torch_device(name)
    return "cpu" if device.type == "cpu" else str(device.index or 0)
