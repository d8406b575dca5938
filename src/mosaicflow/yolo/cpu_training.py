"""Faster YOLO training on a CPU: channels-last convolutions and bfloat16 autocast.

Ultralytics trains on a CPU in float32 with NCHW tensors: its own ``channels_last`` and
``amp='bf16'`` are CUDA-only. A callback (:class:`CpuTrainingSpeedups`, installed by
``train_yolo`` on ``on_pretrain_routine_end``) adds both with torch's public module API:

- the model's weights go channels-last (NHWC), so oneDNN runs its faster CPU convolutions;
- with ``bf16``, a forward pre-hook on the network's first layer enters
  ``torch.autocast("cpu", bfloat16)`` and a forward hook on its last layer (the head) leaves it
  and casts the head's outputs back to float32: convolutions run in bfloat16, the loss, the
  weights, the optimizer and the EMA stay float32.

Measured on a 2-core Xeon with Intel AMX (yolo11n-seg, 256 px, batch 16, 200 images, a 5-minute
budget): 24 epochs in float32 NCHW, 28 with channels-last, 36 with channels-last + bfloat16.
On a CPU without native bfloat16 matrix units, bfloat16 is emulated and slower, so ``auto``
turns it on only where the CPU reports ``amx_bf16``.

The EMA, which is what ultralytics saves, is copied before the hooks are installed: checkpoints
never carry them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Values of the ``cpu_precision`` config key.
CPU_PRECISIONS = ("auto", "bf16", "fp32")
#: The /proc/cpuinfo flag of native bfloat16 matrix units (Intel AMX).
NATIVE_BF16_FLAG = "amx_bf16"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU feature flags the kernel reports (empty where there is no ``/proc/cpuinfo``)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def resolve_cpu_precision(setting: str, device: str, flags: set[str] | None = None) -> str:
    """The precision a training run on ``device`` uses: ``bf16`` or ``fp32``.

    Args:
        setting: the config's ``cpu_precision`` (``auto``, ``bf16`` or ``fp32``).
        device: the resolved ultralytics device (``cpu``, ``0``...); on CUDA this is ``fp32``
            (ultralytics' own AMP setting applies there).
        flags: CPU flags (read from ``/proc/cpuinfo`` when None).

    Raises:
        ValueError: ``setting`` is not one of :data:`CPU_PRECISIONS`.
    """
    if setting not in CPU_PRECISIONS:
        raise ValueError(f"cpu_precision must be one of {CPU_PRECISIONS}, got {setting!r}")
    if device != "cpu":
        return "fp32"
    if setting == "auto":
        return "bf16" if NATIVE_BF16_FLAG in (cpu_flags() if flags is None else flags) else "fp32"
    return setting


def to_float32(value: Any) -> Any:
    """``value`` with every floating-point tensor in it (nested lists, tuples, dicts) as float32."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: to_float32(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_float32(v) for v in value)
    return value


class _Bf16Network:
    """Forward hooks that run a layer sequence (first to last layer) under bf16 autocast."""

    def __init__(self) -> None:
        self._context: Any = None

    def enter(self, module: Any, args: Any) -> None:
        import torch

        self.leave_open_context()  # a forward that raised midway left its context open
        if torch.is_grad_enabled():  # training steps only; validation stays float32
            self._context = torch.autocast("cpu", dtype=torch.bfloat16)
            self._context.__enter__()

    def leave(self, module: Any, args: Any, output: Any) -> Any:
        if self._context is None:
            return None
        self.leave_open_context()
        return to_float32(output)

    def leave_open_context(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            context.__exit__(None, None, None)


class CpuTrainingSpeedups:
    """Ultralytics callback (``on_pretrain_routine_end``): channels-last and optional bf16.

    Args:
        bf16: run the network under bfloat16 autocast (see the module docstring).
    """

    def __init__(self, bf16: bool) -> None:
        self.bf16 = bf16
        self.handles: list[Any] = []

    def __call__(self, trainer: Any) -> None:
        """Install on ``trainer.model`` (after ultralytics made its EMA copy)."""
        import torch

        model = trainer.model
        model.to(memory_format=torch.channels_last)
        if self.bf16:
            layers = model.model  # the network's nn.Sequential: first layer ... head
            hooks = _Bf16Network()
            self.handles = [
                layers[0].register_forward_pre_hook(hooks.enter),
                layers[-1].register_forward_hook(hooks.leave),
            ]
        log.info("CPU training: channels-last, %s", "bfloat16 autocast" if self.bf16 else "float32")
