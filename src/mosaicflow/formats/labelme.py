"""labelme JSON: strict reading (shapes -> polygons, image bytes) and writing.

A labelme file holds ``shapes`` (each with ``label``, ``points``, ``shape_type``), image-level
``flags``, the image size, and either the image embedded as base64 ``imageData`` or an
``imagePath`` relative to the JSON file. Reading is strict: every problem raises a
``ValueError`` naming the file (and the shape), so a converter can validate a whole folder
before writing anything.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.formats.masks import clip_to_image, polygon_area

#: Shape types converted to polygons; every other type is rejected.
SUPPORTED_SHAPES = ("polygon", "rectangle", "circle")

#: labelme's format version written by :func:`write_labelme`.
LABELME_VERSION = "5.5.0"

_IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


@dataclass(frozen=True)
class LabelmeShape:
    """One target shape, converted to a polygon in pixel-edge coordinates."""

    label: str
    class_id: int
    polygon: np.ndarray  # (N, 2) float64 (x, y)


@dataclass(frozen=True)
class LabelmeFrame:
    """A parsed labelme file.

    Attributes:
        json_path: the labelme file.
        width, height: image size in pixels.
        shapes: the shapes whose label is one of the configured labels (empty for frames
            flagged empty).
        ignored: number of shapes with other labels (not targets), or of a frame flagged empty.
        empty_flag: whether the file carries the empty flag (e.g. ``sfw``).
        image_bytes: the encoded image (from ``imageData`` or the referenced file).
        image_suffix: file suffix matching the image's format (``.jpg``, ``.png``...).
        other_labels: the labels of the shapes that are not targets (a frame not flagged
            empty), in the file's order.
    """

    json_path: Path
    width: int
    height: int
    shapes: tuple[LabelmeShape, ...]
    ignored: int
    empty_flag: bool
    image_bytes: bytes
    image_suffix: str
    other_labels: tuple[str, ...] = ()


def circle_polygon(
    center: Sequence[float], edge: Sequence[float], min_vertices: int = 16
) -> np.ndarray:
    """Approximate a circle (labelme: centre and a point on it) by a regular polygon.

    The vertex count grows with the radius (about one vertex per 2 px of circumference, at
    least ``min_vertices``, at most 256), so the area error stays below 1%.
    """
    cx, cy = float(center[0]), float(center[1])
    radius = math.hypot(float(edge[0]) - cx, float(edge[1]) - cy)
    n = int(min(256, max(min_vertices, math.ceil(math.pi * radius))))
    angles = np.arange(n) * (2.0 * math.pi / n)
    return np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)


def shape_to_polygon(shape: dict[str, Any], where: str) -> np.ndarray:
    """Convert a labelme shape to an (N, 2) polygon.

    Args:
        shape: the shape object from the JSON file.
        where: text naming the file and shape, used in error messages.

    Raises:
        ValueError: for unsupported shape types or malformed points.
    """
    kind = shape.get("shape_type") or "polygon"
    if kind not in SUPPORTED_SHAPES:
        raise ValueError(
            f"{where}: shape_type '{kind}' is not supported (only {', '.join(SUPPORTED_SHAPES)})"
        )
    try:
        pts = np.asarray(shape["points"], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"{where}: malformed 'points' ({err})") from err
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        raise ValueError(f"{where}: 'points' must be a list of [x, y] numbers")
    if kind == "rectangle":
        if len(pts) != 2:
            raise ValueError(f"{where}: a rectangle needs 2 points, got {len(pts)}")
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    elif kind == "circle":
        if len(pts) != 2:
            raise ValueError(f"{where}: a circle needs 2 points (centre, edge), got {len(pts)}")
        pts = circle_polygon(pts[0], pts[1])
    elif len(pts) < 3:
        raise ValueError(f"{where}: a polygon needs at least 3 points, got {len(pts)}")
    return pts


def _image_suffix(data: bytes, where: Path) -> tuple[str, tuple[int, int]]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, size = img.format, img.size
            img.load()  # decodes every pixel: a truncated JPEG fails here (verify() reads less)
    except (UnidentifiedImageError, OSError, SyntaxError, ImportError,
            Image.DecompressionBombError) as err:  # fmt: skip
        # ImportError: ultralytics patches Image.open to try an optional HEIF plugin
        raise ValueError(f"{where}: the image cannot be decoded ({err})") from err
    if fmt not in _IMAGE_FORMATS:
        raise ValueError(f"{where}: unsupported image format {fmt}")
    return _IMAGE_FORMATS[fmt], size


def resolve_image_path(json_path: Path, image_path: str) -> Path:
    """Resolve ``imagePath`` relative to the JSON file, refusing paths that leave its folder.

    Raises:
        ValueError: naming the JSON file for absolute paths, ``..`` components, or symlinks
            that resolve outside the annotation folder.
    """
    folder = json_path.parent
    rel = image_path.replace("\\", "/")
    if os.path.isabs(rel) or rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise ValueError(f"{json_path}: imagePath '{image_path}' is absolute; refused")
    if ".." in rel.split("/"):
        raise ValueError(f"{json_path}: imagePath '{image_path}' leaves the annotation folder")
    if "\0" in rel:
        raise ValueError(f"{json_path}: imagePath {image_path!r} holds a NUL character")
    candidate = folder / rel
    real_folder = folder.resolve()
    try:
        real = candidate.resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise ValueError(
            f"{json_path}: imagePath '{image_path}' cannot be resolved ({err})"
        ) from err
    if real != real_folder and real_folder not in real.parents:
        raise ValueError(
            f"{json_path}: imagePath '{image_path}' resolves outside the annotation folder "
            f"(symlink to {real}); refused"
        )
    return candidate


def read_labelme(
    json_path: Path, labels: Sequence[str], empty_flag: str | None = "sfw"
) -> LabelmeFrame:
    """Read and validate one labelme file.

    Args:
        json_path: the labelme JSON file.
        labels: target labels; a shape's class id is its label's index here. Shapes with other
            labels are counted in ``ignored``.
        empty_flag: image flag meaning "no targets in this frame" (its shapes are ignored);
            ``None`` disables it.

    Returns:
        The parsed frame, with the image bytes loaded.

    Raises:
        ValueError: naming the file for malformed JSON, missing keys, unsupported shapes, an
            image that is missing, undecodable, of another size, or outside the folder.
    """
    json_path = Path(json_path)
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"{json_path}: malformed labelme JSON ({err})") from err
    if not isinstance(doc, dict):
        raise ValueError(f"{json_path}: a labelme file must hold a JSON object")
    shapes = doc.get("shapes")
    if not isinstance(shapes, list):
        raise ValueError(f"{json_path}: missing or invalid 'shapes' list")
    flags = doc.get("flags") or {}
    if not isinstance(flags, dict):
        raise ValueError(f"{json_path}: 'flags' must be an object")
    is_empty = bool(empty_flag and flags.get(empty_flag))

    if doc.get("imageData"):
        try:
            image_bytes = base64.b64decode(doc["imageData"], validate=True)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{json_path}: 'imageData' is not valid base64 ({err})") from err
    else:
        image_path = doc.get("imagePath")
        if not isinstance(image_path, str) or not image_path:
            raise ValueError(f"{json_path}: neither 'imageData' nor 'imagePath' is set")
        file = resolve_image_path(json_path, image_path)
        if not file.is_file():
            raise ValueError(f"{json_path}: image '{image_path}' not found")
        image_bytes = file.read_bytes()
    suffix, (img_w, img_h) = _image_suffix(image_bytes, json_path)
    width, height = doc.get("imageWidth"), doc.get("imageHeight")
    if width is None or height is None:
        width, height = img_w, img_h
    try:
        size = (int(width), int(height))
    except (TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"{json_path}: imageWidth and imageHeight must be whole numbers, got "
                         f"{width!r} and {height!r}") from err  # fmt: skip
    if size != (img_w, img_h):
        raise ValueError(
            f"{json_path}: imageWidth x imageHeight {width}x{height} differ from the image's "
            f"{img_w}x{img_h}"
        )

    index = {name: i for i, name in enumerate(labels)}
    found: list[LabelmeShape] = []
    others: list[str] = []
    ignored = 0
    for k, shape in enumerate(shapes):
        if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
            raise ValueError(f"{json_path}: shape #{k} is not an object with a text 'label'")
        where = f"{json_path}: shape #{k} (label '{shape['label']}')"
        polygon = shape_to_polygon(shape, where)  # validate every shape, targets or not
        if is_empty or shape["label"] not in index:
            ignored += 1
            if not is_empty:
                others.append(shape["label"])
            continue
        clipped = clip_to_image(polygon, img_w, img_h)
        if len(clipped) < 3 or polygon_area(clipped) <= 0.0:
            raise ValueError(f"{where}: the shape has no area inside the image")
        found.append(LabelmeShape(shape["label"], index[shape["label"]], polygon))
    return LabelmeFrame(
        json_path, img_w, img_h, tuple(found), ignored, is_empty, image_bytes, suffix,
        tuple(others),
    )  # fmt: skip


def list_labelme(folder: Path) -> list[Path]:
    """Sorted labelme JSON files directly inside ``folder``.

    Raises:
        ValueError: if the folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: labelme folder not found")
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def labelme_document(
    polygons: Sequence[tuple[str, np.ndarray]],
    width: int,
    height: int,
    image_path: str,
    image_bytes: bytes | None = None,
    flags: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """Build a labelme document with one polygon shape per ``(label, polygon)``.

    Args:
        polygons: labels and (N, 2) polygons in pixel coordinates.
        width, height: image size.
        image_path: path of the image relative to the JSON file.
        image_bytes: embed the image as ``imageData`` when given.
        flags: image-level flags.
    """
    shapes = [
        {
            "label": label,
            "points": [[round(float(x), 6), round(float(y), 6)] for x, y in np.asarray(poly)],
            "group_id": None,
            "description": "",
            "shape_type": "polygon",
            "flags": {},
            "mask": None,
        }
        for label, poly in polygons
    ]
    return {
        "version": LABELME_VERSION,
        "flags": dict(flags or {}),
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": base64.b64encode(image_bytes).decode("ascii") if image_bytes else None,
        "imageHeight": int(height),
        "imageWidth": int(width),
    }
