"""Binary masks <-> polygons, exactly.

``mask_to_instances`` turns a binary mask into one :class:`Instance` per 8-connected component:
the outer contour and the contours of its holes, traced on a 2x nearest-neighbour upsampling of
the mask so that every polygon vertex lies a quarter pixel away from a pixel centre. Centre
sampling (:func:`rasterize`) of those polygons gives back exactly the source pixels, also for
one-pixel-thin and single-pixel shapes (plain pixel-centre contours would have zero area there).

YOLO segmentation has one polygon per instance and no holes. :func:`bridge_holes` joins each
hole to the outer contour with a zero-width bridge (the way ultralytics merges multi-part COCO
segments); under the even-odd rule the hole stays empty, so the geometry is kept exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

Polygon = np.ndarray  # (N, 2) float64 array of (x, y) in pixel-edge coordinates


@dataclass(frozen=True)
class Instance:
    """One connected component of a mask.

    Attributes:
        outer: outer contour, (N, 2) array of (x, y) pixel-edge coordinates.
        holes: contours of the holes, each an (M, 2) array.
        area: number of pixels of the component.
        bbox: ``(x, y, w, h)`` of the component's pixels (COCO convention).
    """

    outer: Polygon
    holes: tuple[Polygon, ...]
    area: int
    bbox: tuple[int, int, int, int]


def rasterize(
    polygon: Sequence[Sequence[float]] | np.ndarray, height: int, width: int
) -> np.ndarray:
    """Rasterise one polygon by centre sampling (even-odd rule).

    Args:
        polygon: (N, 2) vertices (x, y) in pixel-edge coordinates; N >= 3.
        height: mask height in pixels.
        width: mask width in pixels.

    Returns:
        A ``bool`` array of shape ``(height, width)``.
    """
    from skimage.draw import polygon as draw_polygon

    pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    out = np.zeros((height, width), dtype=bool)
    if len(pts) < 3:
        return out
    rows, cols = draw_polygon(pts[:, 1] - 0.5, pts[:, 0] - 0.5, shape=(height, width))
    out[rows, cols] = True
    return out


def rasterize_many(polygons: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Union of :func:`rasterize` over several polygons."""
    out = np.zeros((height, width), dtype=bool)
    for poly in polygons:
        out |= rasterize(poly, height, width)
    return out


def clip_to_image(polygon: np.ndarray, width: int, height: int) -> np.ndarray:
    """The part of a pixel-edge polygon inside the image ``[0, width] x [0, height]``
    (Sutherland-Hodgman against each edge; a polygon inside is returned as it is, one outside
    as no points). Moving each vertex into the image instead would change the shape: a
    triangle that covers most of the image but reaches far past one side would become half
    of it. Fewer than 3 points (a box's two corners) are each moved into the image."""
    pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return np.clip(pts, 0.0, [float(width), float(height)])
    if pts.min() >= 0 and (pts[:, 0] <= width).all() and (pts[:, 1] <= height).all():
        return pts
    for axis, bound, keep_below in ((0, 0.0, False), (0, float(width), True),
                                    (1, 0.0, False), (1, float(height), True)):  # fmt: skip
        if len(pts) == 0:
            break
        inside = pts[:, axis] <= bound if keep_below else pts[:, axis] >= bound
        clipped = []
        for i in range(len(pts)):
            current, previous = pts[i], pts[i - 1]
            if inside[i] != inside[i - 1]:  # the edge crosses the bound: add the crossing
                t = (bound - previous[axis]) / (current[axis] - previous[axis])
                crossing = previous + t * (current - previous)
                crossing[axis] = bound
                clipped.append(crossing)
            if inside[i]:
                clipped.append(current)
        pts = np.asarray(clipped, dtype=np.float64).reshape(-1, 2)
    return pts


def polygon_area(polygon: np.ndarray) -> float:
    """Absolute shoelace area of a polygon in square pixels."""
    pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    a, b = a.astype(bool), b.astype(bool)
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)


def _contours_to_edges(contour: np.ndarray, x0: int, y0: int) -> np.ndarray:
    # contour points are centres of cells of the 2x upsampled crop; cell u covers original
    # coordinates [u/2, (u+1)/2), so its centre is (u + 0.5) / 2.
    pts = contour.reshape(-1, 2).astype(np.float64)
    pts = (pts + 0.5) / 2.0
    pts[:, 0] += x0
    pts[:, 1] += y0
    return pts


def mask_to_instances(mask: np.ndarray) -> list[Instance]:
    """Split a binary mask into 8-connected components with exact contours.

    Args:
        mask: 2-D array; non-zero pixels are foreground.

    Returns:
        Instances sorted by the position of their first pixel (row-major), so the order is
        deterministic.
    """
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    if binary.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {binary.shape}")
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    instances = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        crop = (labels[y : y + h, x : x + w] == label).astype(np.uint8)
        # pad by one pixel so contours never touch the crop border, then upsample 2x
        padded = np.pad(crop, 1)
        up = np.repeat(np.repeat(padded, 2, axis=0), 2, axis=1)
        contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        outer = None
        holes = []
        for contour, info in zip(contours, hierarchy[0], strict=True):
            pts = _contours_to_edges(contour, x - 1, y - 1)
            if info[3] < 0:  # no parent: the outer contour (one per component)
                outer = pts
            else:
                holes.append(pts)
        assert outer is not None
        instances.append(Instance(outer, tuple(holes), area, (x, y, w, h)))
    instances.sort(key=lambda inst: (inst.bbox[1], inst.bbox[0]))
    return instances


def instance_mask(instance: Instance, height: int, width: int) -> np.ndarray:
    """Rasterise an instance (outer contour minus holes) by centre sampling."""
    out = rasterize(instance.outer, height, width)
    for hole in instance.holes:
        out &= ~rasterize(hole, height, width)
    return out


def bridge_holes(outer: np.ndarray, holes: Sequence[np.ndarray]) -> np.ndarray:
    """Join holes to the outer contour with zero-width bridges (one polygon, even-odd exact).

    Each hole, in order, is cut open at the vertex closest to the polygon built so far and
    spliced in there: ``... p_i, h_j, h_j+1, ..., h_j, p_i, ...``.

    Args:
        outer: (N, 2) outer contour.
        holes: hole contours.

    Returns:
        An (N + sum(M + 2), 2) polygon.
    """
    poly = np.asarray(outer, dtype=np.float64).reshape(-1, 2)
    for hole in holes:
        h = np.asarray(hole, dtype=np.float64).reshape(-1, 2)
        d = ((poly[:, None, :] - h[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        ring = np.concatenate([h[j:], h[: j + 1]])
        poly = np.concatenate([poly[: i + 1], ring, poly[i:]])
    return poly


def read_mask(path: Path) -> np.ndarray:
    """Read a binary mask PNG (values 0 and 255, or 0 and 1) as a ``bool`` array.

    Raises:
        ValueError: naming the file if it cannot be read, is not single-channel, or holds
            other values.
    """
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ValueError(f"{path}: cannot read mask image")
    if data.ndim == 3:
        if not (data == data[..., :1]).all():
            raise ValueError(f"{path}: mask has differing colour channels; expected a binary mask")
        data = data[..., 0]
    values = np.unique(data)
    if not (set(values.tolist()) <= {0, 255} or set(values.tolist()) <= {0, 1}):
        raise ValueError(
            f"{path}: not a binary mask (values {values[:8].tolist()}...; expected 0/255 or 0/1)"
        )
    return data > 0


def write_mask(path: Path, mask: np.ndarray) -> None:
    """Write a boolean mask as a 0/255 PNG atomically."""
    from mosaicflow.io import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8)):
            raise OSError(f"{path}: cannot write mask")
