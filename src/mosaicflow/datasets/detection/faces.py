"""Face mosaics of the detection dataset: the second class, ``mosaic_face``.

Censors pixelate faces too, with coarser blocks than the sensitive regions. The nudenet base
finds the faces on each sample's source frame; each becomes an ellipse over the face box grown
by ``faces.grow``, less the frame's regions (a face mostly inside a region is the region's
mosaic, not a face's). The faces of a scene share one set of mosaic parameters, drawn with the
``faces`` block size range, so the detector sees what a censored video shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from mosaicflow.config import ConfigError
from mosaicflow.formats.boxes import Box
from mosaicflow.mosaic.config import MosaicConfig

if TYPE_CHECKING:
    from mosaicflow.nudenet import ClassFinder

#: The detector's class names with faces: the regions' mosaics, then the faces'.
CLASSES_WITH_FACES = ("mosaic_region", "mosaic_face")
#: A face whose box the regions cover this much (share of its pixels) is left to the region.
INSIDE_REGION = 0.5


@dataclass(frozen=True)
class FacesConfig:
    """The ``detection_dataset.faces`` section."""

    enabled: bool
    classes: tuple[str, ...]
    min_score: float
    grow: float
    size_scale: tuple[float, float]
    min_block_size: int

    def __post_init__(self) -> None:
        if not 0 < self.size_scale[0] <= self.size_scale[1]:
            raise ConfigError(
                "config key 'detection_dataset.faces.size_scale': needs 0 < low <= high"
            )
        if self.grow < 1:
            raise ConfigError("config key 'detection_dataset.faces.grow': must be >= 1")

    def mosaic(self, mosaic: MosaicConfig) -> MosaicConfig:
        """The ``mosaic`` section with the faces' block size range and smallest block."""
        return replace(mosaic, size_scale=self.size_scale, min_block_size=self.min_block_size)


def face_finder(cfg: FacesConfig, model: str | Path | None = None) -> ClassFinder:
    """The nudenet base's faces (``cfg.classes`` at ``cfg.min_score``) on RGB frames, best
    first (``model``: the ONNX file, default the installed package's ``320n.onnx``).

    Raises:
        ValueError: a class the detector does not know (names the key and the known ones).
    """
    from mosaicflow.nudenet import ClassFinder

    key = "config key 'detection_dataset.faces.classes'"
    return ClassFinder(cfg.classes, cfg.min_score, key, model)


def region_share(box: Box, regions: np.ndarray) -> float:
    """Share of a box's pixels (clipped to the frame) that the region mask covers."""
    height, width = regions.shape
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    return float(regions[y0:y1, x0:x1].mean())


def face_masks(
    boxes: Sequence[Box], region_masks: Sequence[np.ndarray], shape: Sequence[int], grow: float
) -> list[np.ndarray]:
    """One bool mask per face that is not a region's: the ellipse inscribed in its box grown
    by ``grow`` (clipped to the frame), less every region and every earlier face.

    Args:
        boxes: the faces' boxes (x0, y0, x1, y1), best first.
        region_masks: the frame's region masks.
        shape: ``(H, W)`` of the frame.
        grow: the growth factor of the boxes.
    """
    height, width = int(shape[0]), int(shape[1])
    regions = np.zeros((height, width), bool)
    for mask in region_masks:
        regions |= mask
    taken = regions.copy()
    out = []
    for box in boxes:
        if region_share(box, regions) >= INSIDE_REGION:
            continue
        x0, y0, x1, y1 = box
        centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
        axes = (max(1, round((x1 - x0) * grow / 2)), max(1, round((y1 - y0) * grow / 2)))
        ellipse = np.zeros((height, width), np.uint8)
        cv2.ellipse(ellipse, centre, axes, 0, 0, 360, 1, thickness=-1)
        mask = (ellipse > 0) & ~taken
        if mask.any():
            out.append(mask)
            taken |= mask
    return out
