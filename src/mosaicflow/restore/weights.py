"""Loading weights: generator checkpoints (three layouts), SPyNet and VGG19 weights.

Everything is read with ``torch.load(..., weights_only=True)`` (mmengine 0.10.7's own
``load_checkpoint`` fails on torch >= 2.6). Full mmengine training checkpoints also pickle
numpy values and the message hub's ``HistoryBuffer``; those few types are allow-listed for the
weights-only unpickler (``getattr`` only on ``HistoryBuffer``'s public statistics methods), so
no arbitrary code can run while reading a file.

Generator layouts accepted (see :func:`generator_state_dict`):

- a plain state dict (``spynet.mean``, ``feat_extract.0.weight``, ...);
- an mmengine checkpoint: a dict whose ``state_dict`` holds one of the other layouts;
- the published inference layout: keys prefixed ``generator.`` and/or ``generator_ema.``
  (the EMA copy is preferred), possibly beside ``discriminator.`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

GENERATOR_PREFIXES = ("generator_ema.", "generator.")


class WeightsError(ValueError):
    """A weights file that cannot be read or does not fit the network (names the file)."""


def _safe_globals() -> list[Any]:
    import numpy as np

    allowed: list[Any] = [np.ndarray, np.dtype, np._core.multiarray._reconstruct]
    allowed.append(np._core.multiarray.scalar)
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
    except ImportError:  # pragma: no cover - mmengine is a dependency
        return allowed

    def restricted_getattr(obj: Any, name: str) -> Any:
        if obj is HistoryBuffer and not name.startswith("_"):
            return getattr(obj, name)
        raise WeightsError(f"refusing to unpickle getattr({obj!r}, {name!r})")

    allowed += [HistoryBuffer, (restricted_getattr, "builtins.getattr")]
    return allowed


def read_checkpoint(path: str | Path) -> Any:
    """Read a checkpoint file with the weights-only unpickler (on CPU).

    Raises:
        WeightsError: naming the file when it is missing or holds objects other than weights.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (not a zip/pickle), ...
        raise WeightsError(f"cannot read weights from {path}: {exc}") from exc


def _tensor_dict(obj: Any, source: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(f"{source}: expected a non-empty state dict, got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{source}: entries are not tensors: {bad[:5]}")
    return {str(k): v for k, v in obj.items()}


def _strip_wrappers(obj: Any) -> Any:
    """Unwrap an mmengine checkpoint (``state_dict``) and DistributedDataParallel's ``module.``."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if isinstance(obj, Mapping) and obj and all(str(k).startswith("module.") for k in obj):
        obj = {str(k)[len("module.") :]: v for k, v in obj.items()}
    return obj


def generator_state_dict(
    obj: Any, source: str = "<checkpoint>", prefer_ema: bool = True
) -> tuple[dict[str, torch.Tensor], str]:
    """Extract the generator's state dict from any accepted layout.

    Args:
        obj: the loaded checkpoint object.
        source: name used in error messages (the file).
        prefer_ema: take ``generator_ema.`` over ``generator.`` when both are present.

    Returns:
        ``(state_dict, layout)`` with layout one of ``plain``, ``generator``, ``generator_ema``
        (prefixed with ``mmengine:`` when it came from an mmengine checkpoint).
    """
    wrapped = isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping)
    obj = _strip_wrappers(obj)
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{source}: expected a dict of weights, got {type(obj).__name__}")
    prefixes = GENERATOR_PREFIXES if prefer_ema else GENERATOR_PREFIXES[::-1]
    layout = "plain"
    for prefix in prefixes:
        sub = {k[len(prefix) :]: v for k, v in obj.items() if str(k).startswith(prefix)}
        if sub:
            obj, layout = sub, prefix[:-1]
            break
    return _tensor_dict(obj, source), ("mmengine:" if wrapped else "") + layout


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with an error that names the file and the keys."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs network {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {shapes[:3]})")
        raise WeightsError(f"{source} does not fit {type(module).__name__}: " + "; ".join(parts))
    module.load_state_dict(state, strict=True)


def load_generator_weights(model: nn.Module, path: str | Path, prefer_ema: bool = True) -> str:
    """Load restoration weights into a :class:`BasicVSRPlusPlusNet` strictly.

    Args:
        model: the generator.
        path: a plain state dict, an mmengine checkpoint or a published inference checkpoint.
        prefer_ema: use the EMA generator when the file has one.

    Returns:
        The layout that was found (see :func:`generator_state_dict`).

    Raises:
        WeightsError: the file cannot be read or its keys/shapes differ from the network's.
    """
    state, layout = generator_state_dict(read_checkpoint(path), str(path), prefer_ema)
    load_strict(model, state, str(path))
    return layout


def load_spynet_weights(spynet: nn.Module, path: str | Path) -> None:
    """Load SPyNet weights strictly (plain, mmengine, or a whole generator's ``spynet.*``).

    Published SPyNet files hold only the convolutions; the ``mean``/``std`` buffers are then kept
    as they are (they are fixed ImageNet constants). Any other missing or extra key is an error.
    """
    obj = _strip_wrappers(read_checkpoint(path))
    if isinstance(obj, Mapping) and any(str(k).startswith(GENERATOR_PREFIXES) for k in obj):
        obj, _ = generator_state_dict(obj, str(path))
    if isinstance(obj, Mapping) and any(str(k).startswith("spynet.") for k in obj):
        obj = {k[len("spynet.") :]: v for k, v in obj.items() if str(k).startswith("spynet.")}
    state = _tensor_dict(obj, str(path))
    own = spynet.state_dict()
    for buffer in ("mean", "std"):
        if buffer in own and buffer not in state:
            state[buffer] = own[buffer]
    load_strict(spynet, state, str(path))


def load_vgg19_weights(features: nn.Sequential, path: str | Path) -> None:
    """Load torchvision VGG19 weights into a (possibly truncated) VGG19 feature extractor.

    Accepts torchvision's file (``features.<i>.*`` and ``classifier.*`` keys) or a state dict of
    the features alone. Keys of layers beyond the truncation and the classifier are ignored;
    every parameter of ``features`` must be present with the right shape.
    """
    obj = _strip_wrappers(read_checkpoint(path))
    state = _tensor_dict(obj, str(path))
    if any(k.startswith("features.") for k in state):
        state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    elif any(k.startswith("classifier.") for k in state):
        raise WeightsError(f"{path}: has classifier keys but no 'features.*' keys")

    def layer(key: str) -> int:
        head = key.split(".", 1)[0]
        if not head.isdigit():
            raise WeightsError(f"{path}: unexpected key {key!r} for VGG19 features")
        return int(head)

    last = len(features) - 1
    kept = {k: v for k, v in state.items() if layer(k) <= last}
    load_strict(features, kept, str(path))
