"""Restoration clips: scene clips around the tracked regions, with masks and metadata.

One module per job: :mod:`.config` (the ``restoration_dataset:`` section), :mod:`.scenes`
(scenes from region tracks), :mod:`.crops` (smoothed square crops), :mod:`.analysers`
(measurements and filters), :mod:`.meta` (the versioned clip metadata), :mod:`.media` (clip and
mask video files), :mod:`.build` (per-video entry point), :mod:`.index` (split and aggregate
index), :mod:`.sheet` (contact sheets) and :mod:`.torch_dataset` (``MosaicClipDataset``).

Entry points (imported lazily, so ``import mosaicflow.datasets.clips`` stays light):
``build_video_clips``, ``build_index``, ``contact_sheet``, ``MosaicClipDataset`` and
``RestorationDatasetConfig``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RestorationDatasetConfig": "mosaicflow.datasets.clips.config",
    "build_video_clips": "mosaicflow.datasets.clips.build",
    "build_index": "mosaicflow.datasets.clips.index",
    "contact_sheet": "mosaicflow.datasets.clips.sheet",
    "MosaicClipDataset": "mosaicflow.datasets.clips.torch_dataset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mosaicflow.datasets.clips' has no attribute {name!r}")
