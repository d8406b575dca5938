"""Sort region crops or restoration clips by what they look like (``mosaicflow sort``), after
DeepFaceLab's face sorting.

Every item is an RGB crop with an optional region mask (0/255; measures look inside it when
given) and, for clips, the share of frames whose region box touches the frame's edge and the
source-quality score of the workflow's classifier. The keys:

- ``blur``: variance of the Laplacian of the grey crop; sharpest first;
- ``motion-blur``: ``1 -`` weakest over strongest directional gradient (0 = no direction
  preferred); least first;
- ``brightness``: mean HSV value, 0-255; brightest first;
- ``hue``: saturation-weighted circular mean hue in degrees; ascending;
- ``black``: share of pixels with value < 16; least first;
- ``size``: region pixels (the mask's, else the crop's); largest first;
- ``edge``: share of frames whose region box touches the frame edge (0 for images); least first;
- ``source-quality``: the clip's ``source_quality`` (P(clean) of its source frames, 0-1, from a
  run with ``quality.enabled``); poorest first;
- ``hist``: each item followed by its most similar unused one (HSV histograms).

``best`` keeps ``n`` items: the sharpest ``pool`` x ``n`` (by ``blur``), then greedily the most
dissimilar by histogram (farthest point first, starting from the sharpest). Ties always break by
item name, so every order is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

#: Sort keys and whether a higher measure comes first.
KEYS: dict[str, bool] = {
    "blur": True,
    "motion-blur": False,
    "brightness": True,
    "hue": False,
    "black": False,
    "size": True,
    "edge": False,
    "source-quality": False,
}
#: Value below which a pixel counts as black (HSV value, 0-255).
BLACK_LEVEL = 16
#: Histogram bins per HSV channel for ``hist`` and ``best``.
HIST_BINS = (16, 8, 8)


@dataclass(frozen=True)
class Item:
    """One thing to sort: a name, an RGB crop, an optional 0/255 mask, the edge share and the
    source quality (None when not scored)."""

    name: str
    image: np.ndarray
    mask: np.ndarray | None = None
    edge: float = 0.0
    quality: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _inside(item: Item) -> np.ndarray:
    """Boolean mask of the pixels measured (the whole crop without a mask)."""
    if item.mask is None:
        return np.ones(item.image.shape[:2], bool)
    inside = item.mask >= 128
    return inside if inside.any() else np.ones(item.image.shape[:2], bool)


def sharpness(item: Item) -> float:
    """Variance of the Laplacian of the grey crop inside the mask."""
    grey = cv2.cvtColor(item.image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F)[_inside(item)].var())


def motion_blur(item: Item) -> float:
    """``1 - min / max`` of the mean absolute gradient along 0, 45, 90 and 135 degrees (per
    pixel of distance): a motion-blurred crop keeps its edges across the motion only."""
    grey = cv2.cvtColor(item.image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    inside = _inside(item)
    kernels = (
        np.array([[0, 0, 0], [-1, 0, 1], [0, 0, 0]], np.float64),
        np.array([[0, 0, 1], [0, 0, 0], [-1, 0, 0]], np.float64),
        np.array([[0, 1, 0], [0, 0, 0], [0, -1, 0]], np.float64),
        np.array([[1, 0, 0], [0, 0, 0], [0, 0, -1]], np.float64),
    )
    steps = (1.0, np.sqrt(2.0), 1.0, np.sqrt(2.0))  # diagonal differences span sqrt(2) more
    energy = [
        float(np.abs(cv2.filter2D(grey, -1, k))[inside].mean()) / step
        for k, step in zip(kernels, steps, strict=True)
    ]
    return 0.0 if max(energy) <= 1e-9 else 1.0 - min(energy) / max(energy)


def _hsv(item: Item) -> np.ndarray:
    return cv2.cvtColor(item.image, cv2.COLOR_RGB2HSV)


def brightness(item: Item) -> float:
    """Mean HSV value (0-255) inside the mask."""
    return float(_hsv(item)[..., 2][_inside(item)].mean())


def hue(item: Item) -> float:
    """Saturation-weighted circular mean hue in degrees [0, 360)."""
    hsv = _hsv(item)[_inside(item)].astype(np.float64)
    angle = np.deg2rad(hsv[:, 0] * 2.0)  # OpenCV hue is 0-179
    weight = hsv[:, 1] + 1e-6
    mean = np.arctan2((weight * np.sin(angle)).sum(), (weight * np.cos(angle)).sum())
    return float(np.rad2deg(mean) % 360.0)


def black_share(item: Item) -> float:
    """Share of pixels inside the mask whose HSV value is below :data:`BLACK_LEVEL`."""
    return float((_hsv(item)[..., 2][_inside(item)] < BLACK_LEVEL).mean())


def size(item: Item) -> float:
    """Region pixels: the mask's area, else the crop's."""
    if item.mask is not None:
        return float((item.mask >= 128).sum())
    return float(item.image.shape[0] * item.image.shape[1])


def source_quality(item: Item) -> float:
    """The item's source-quality score.

    Raises:
        ValueError: the item was not scored (names it).
    """
    if item.quality is None:
        raise ValueError(
            f"{item.name}: no source_quality to sort by (only the clips of a run with"
            " quality.enabled have one)"
        )
    return float(item.quality)


MEASURES = {
    "blur": sharpness,
    "motion-blur": motion_blur,
    "brightness": brightness,
    "hue": hue,
    "black": black_share,
    "size": size,
    "edge": lambda item: float(item.edge),
    "source-quality": source_quality,
}


def histogram(item: Item) -> np.ndarray:
    """Normalised HSV histogram of the crop inside the mask (float32, sums to 1)."""
    mask = _inside(item).astype(np.uint8) * 255
    hist = cv2.calcHist(
        [_hsv(item)], [0, 1, 2], mask, list(HIST_BINS), [0, 180, 0, 256, 0, 256]
    ).ravel()
    return (hist / max(float(hist.sum()), 1e-9)).astype(np.float32)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two histograms (0 = identical, 1 = disjoint)."""
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def sort_by(items: Sequence[Item], key: str) -> list[tuple[Item, float]]:
    """Items in the key's order with their measure.

    Raises:
        ValueError: an unknown key (names the known ones).
    """
    if key == "hist":
        return hist_chain(items)
    if key not in KEYS:
        raise ValueError(f"unknown sort key {key!r}; known: {sorted([*KEYS, 'hist', 'best'])}")
    measured = [(item, MEASURES[key](item)) for item in items]
    sign = -1.0 if KEYS[key] else 1.0
    return sorted(measured, key=lambda pair: (sign * pair[1], pair[0].name))


def hist_chain(items: Sequence[Item]) -> list[tuple[Item, float]]:
    """Start from the first item by name, then always the nearest unused item by histogram;
    the measure is the distance to the previous item."""
    if not items:
        return []
    todo = sorted(items, key=lambda it: it.name)
    hists = {it.name: histogram(it) for it in todo}
    order = [(todo.pop(0), 0.0)]
    while todo:
        last = hists[order[-1][0].name]
        distances = [(_distance(last, hists[it.name]), it.name, k) for k, it in enumerate(todo)]
        distance, _, k = min(distances)
        order.append((todo.pop(k), distance))
    return order


def best(items: Sequence[Item], n: int, pool: int = 3) -> list[tuple[Item, float]]:
    """The ``n`` best items: the sharpest ``pool * n``, then the most dissimilar among them.

    Returns:
        The chosen items in choice order with their distance to the nearest earlier choice
        (the first, the sharpest, has its sharpness).

    Raises:
        ValueError: ``n`` or ``pool`` below 1.
    """
    if n < 1 or pool < 1:
        raise ValueError(f"best needs n >= 1 and pool >= 1, got {n}, {pool}")
    sharpest = sort_by(items, "blur")[: pool * n]
    if not sharpest:
        return []
    candidates = [item for item, _ in sharpest]
    hists = [histogram(it) for it in candidates]
    chosen = [0]
    nearest = np.array([_distance(hists[0], h) for h in hists])
    out = [sharpest[0]]
    while len(chosen) < min(n, len(candidates)):
        pick = min(
            (i for i in range(len(candidates)) if i not in chosen),
            key=lambda i: (-nearest[i], candidates[i].name),
        )
        out.append((candidates[pick], float(nearest[pick])))
        chosen.append(pick)
        nearest = np.minimum(nearest, [_distance(hists[pick], h) for h in hists])
    return out


def contact_sheet(
    ordered: Sequence[tuple[Item, float]], key: str, columns: int = 8, tile: int = 96
) -> np.ndarray:
    """The items in order as an RGB grid, each tile captioned with its rank and measure."""
    label_h = 14
    rows = max(1, -(-len(ordered) // columns))
    sheet = np.full((rows * (tile + label_h), columns * tile, 3), 255, np.uint8)
    for k, (item, value) in enumerate(ordered):
        r, c = divmod(k, columns)
        h, w = item.image.shape[:2]
        scale = tile / max(h, w)
        small = cv2.resize(item.image, (max(1, round(w * scale)), max(1, round(h * scale))))
        y, x = r * (tile + label_h) + label_h, c * tile
        sheet[y : y + small.shape[0], x : x + small.shape[1]] = small
        cv2.putText(
            sheet, f"{k + 1} {key} {value:.3g}", (x + 2, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.32,
            (0, 0, 0), 1, cv2.LINE_AA,
        )  # fmt: skip
    return sheet
