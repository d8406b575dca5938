"""Mosaic synthesis (pixelation with one grid per clip), block-size estimators, degradations.

Public entry points (imported lazily, so ``import mosaicflow.mosaic`` stays light):
``sample_clip_params``, ``apply_mosaic``, ``MosaicParams`` (``synth``), ``degrade``
(``degrade``), ``contact_sheet`` (``sheet``) and ``MosaicConfig`` (``config``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MosaicConfig": "mosaicflow.mosaic.config",
    "MosaicParams": "mosaicflow.mosaic.synth",
    "apply_mosaic": "mosaicflow.mosaic.synth",
    "extend_masks": "mosaicflow.mosaic.synth",
    "sample_clip_params": "mosaicflow.mosaic.synth",
    "degrade": "mosaicflow.mosaic.degrade",
    "contact_sheet": "mosaicflow.mosaic.sheet",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mosaicflow.mosaic' has no attribute {name!r}")
