"""Label errors injected into the demo world's labelme files, with their truth.

A real labelled set holds mistakes: a target nobody outlined, a polygon drawn beside its target,
an unlabelled look-alike outlined as a target. The world makes them on purpose (``world.
label_noise``) so that a label-issue finder can be scored: each picked frame gets one error of a
kind drawn from ``kinds``, and :func:`inject` returns the record of every error (which file, what
kind, the box before and after).

- ``drop``: one polygon is removed (the target is left unlabelled);
- ``shift``: one polygon is moved by 0.6-1.0 of its box size (it no longer covers its target);
- ``distractor``: an ellipse over one of the frame's distractor boxes is added with the target
  label (a look-alike labelled as a target).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mosaicflow.world.config import LabelNoise
from mosaicflow.world.specs import derive_seed

#: Points of the ellipse polygon a ``distractor`` error draws.
_ELLIPSE_POINTS = 16
#: A distractor counts only if at most this share of its box is covered by target polygons.
_MAX_TARGET_OVERLAP = 0.2


def polygon_box(points: Sequence[Sequence[float]]) -> list[float]:
    """``[x0, y0, x1, y1]`` of a polygon's points."""
    xy = np.asarray(points, np.float64)
    return [
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    ]


def _overlap(box: Sequence[float], other: Sequence[float]) -> float:
    """Share of ``box``'s area inside ``other``."""
    w = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    h = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    area = max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))
    return w * h / area


def _ellipse(box: Sequence[float]) -> list[list[float]]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    angles = np.linspace(0, 2 * math.pi, _ELLIPSE_POINTS, endpoint=False)
    return [[round(cx + rx * math.cos(a), 2), round(cy + ry * math.sin(a), 2)] for a in angles]


def _shifted(
    points: list[list[float]], rng: np.random.Generator, width: int, height: int
) -> list[list[float]] | None:
    """``points`` moved by 0.6-1.0 of their box size in a random direction, kept inside the
    image; None when no direction keeps the polygon inside."""
    x0, y0, x1, y1 = polygon_box(points)
    size = max(x1 - x0, y1 - y0)
    start = rng.uniform(0, 2 * math.pi)
    length = rng.uniform(0.6, 1.0) * size
    for turn in range(8):  # the first direction that keeps the polygon inside the image
        angle = start + turn * math.pi / 4
        dx, dy = length * math.cos(angle), length * math.sin(angle)
        if x0 + dx >= 0 and y0 + dy >= 0 and x1 + dx <= width - 1 and y1 + dy <= height - 1:
            return [[round(x + dx, 2), round(y + dy, 2)] for x, y in points]
    return None


def inject(
    doc: dict[str, Any],
    distractors: Sequence[Sequence[int]],
    noise: LabelNoise,
    seed: int,
    label: str,
    empty_label: str,
) -> dict[str, Any] | None:
    """Give one labelme document (in place) at most one error; the error's record, or None.

    The frame is picked with probability ``noise.fraction`` from a generator seeded by ``seed``
    and the image name, so the same world gets the same errors. The kind is drawn among those
    the frame allows (``drop`` and ``shift`` need a polygon, ``distractor`` a distractor box
    mostly clear of targets).

    Args:
        doc: a labelme document (``shapes``, ``imagePath``, ``imageWidth``, ``imageHeight``).
        distractors: the frame's distractor boxes ``[x0, y0, x1, y1]`` (world truth).
        noise: the noise settings.
        seed: the world's seed.
        label: the target label (given to a distractor).
        empty_label: the flag of frames without targets (cleared when a distractor is labelled).

    Returns:
        ``{"image", "kind", "label_box", "truth_box"}``: the file, the kind, the box of the
        wrong polygon as written (None for ``drop``) and of the target it should outline (None
        for ``distractor``).
    """
    if noise.fraction <= 0:
        return None
    image = str(doc["imagePath"])
    rng = np.random.default_rng(derive_seed(seed, "label_noise", image))
    if rng.random() >= noise.fraction:
        return None
    shapes = doc["shapes"]
    boxes = [polygon_box(s["points"]) for s in shapes]
    clear = [
        list(map(float, d))
        for d in distractors
        if all(_overlap(d, b) <= _MAX_TARGET_OVERLAP for b in boxes)
    ]
    allowed = [
        k for k in noise.kinds if (k == "distractor" and clear) or (k != "distractor" and shapes)
    ]
    if not allowed:
        return None
    kind = allowed[int(rng.integers(len(allowed)))]
    if kind == "distractor":
        box = clear[int(rng.integers(len(clear)))]
        shapes.append(
            {
                "label": label,
                "points": _ellipse(box),
                "group_id": None,
                "description": "",
                "shape_type": "polygon",
                "flags": {},
                "mask": None,
            }
        )
        doc["flags"] = {**doc.get("flags", {}), empty_label: False}
        return {"image": image, "kind": kind, "label_box": box, "truth_box": None}
    index = int(rng.integers(len(shapes)))
    truth_box = boxes[index]
    if kind == "shift":
        moved = _shifted(shapes[index]["points"], rng, doc["imageWidth"], doc["imageHeight"])
        if moved is not None:
            shapes[index]["points"] = moved
            return {
                "image": image, "kind": kind, "label_box": polygon_box(moved),
                "truth_box": truth_box,
            }  # fmt: skip
        kind = "drop"  # no room to move it: the error becomes a missing label
    del shapes[index]
    return {"image": image, "kind": kind, "label_box": None, "truth_box": truth_box}
