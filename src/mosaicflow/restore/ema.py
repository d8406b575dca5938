"""Exponential moving average of the generator (stage 2).

``ema = (1 - m) * ema + m * param`` after every iteration, computed as
``ema.lerp_(param, m)`` (the same value; exact when ``ema == param``, so a frozen SPyNet stays
bit-identical). Buffers are copied. mmengine's ``ExponentialMovingAverage`` is not used: it wraps
the network (``module.`` key prefix, an extra ``steps`` buffer) and copies the weights on its
first update instead of averaging, which would break the reference key layout of the export.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, momentum: float) -> None:
    """Move ``ema``'s parameters towards ``model``'s by ``momentum``; copy the buffers.

    Args:
        ema: the averaged copy (same architecture as ``model``).
        model: the trained network.
        momentum: weight of the new parameters, in (0, 1].

    Raises:
        ValueError: momentum out of range or the two networks differ in names or shapes.
    """
    if not 0.0 < momentum <= 1.0:
        raise ValueError(f"EMA momentum must be in (0, 1], got {momentum}")
    ema_params = dict(ema.named_parameters())
    params = dict(model.named_parameters())
    if ema_params.keys() != params.keys():
        raise ValueError("EMA and model parameters differ in their names")
    shapes = [n for n in params if params[n].shape != ema_params[n].shape]
    if shapes:
        raise ValueError(f"EMA and model parameters differ in shape: {shapes[:3]}")
    names = list(params)
    torch._foreach_lerp_(
        [ema_params[n].data for n in names], [params[n].data for n in names], momentum
    )
    ema_buffers = dict(ema.named_buffers())
    for name, buf in model.named_buffers():
        ema_buffers[name].copy_(buf)
