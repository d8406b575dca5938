"""The synthetic demo world: deterministic videos, truth masks, labelme and watermark sets.

The truth it writes is in the format of :mod:`mosaicflow.formats.truth`, which readers import.

Light names (configs and specs) import eagerly; the renderers (OpenCV/PyAV) load on first use.
"""

from __future__ import annotations

from typing import Any

from mosaicflow.world.config import WorldConfig, WorldRoles
from mosaicflow.world.specs import WATERMARK_CLASSES, VideoSpec, video_specs

_LAZY = {
    "RenderResult": "mosaicflow.world.render",
    "render_video": "mosaicflow.world.render",
    "write_labelme_set": "mosaicflow.world.labels",
    "write_watermark_set": "mosaicflow.world.labels",
    "contact_sheet": "mosaicflow.world.labels",
}

__all__ = ["WATERMARK_CLASSES", "VideoSpec", "WorldConfig", "WorldRoles", "video_specs", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mosaicflow.world' has no attribute {name!r}")
