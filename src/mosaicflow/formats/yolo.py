"""YOLO label files: segmentation and detection lines, strict reading, YOLO -> labelme.

Segmentation line: ``class x1 y1 x2 y2 ...``; detection line: ``class cx cy w h``; the part of
a polygon inside the image (:func:`clip_to_image`), divided by the image width/height and
written with 6 decimals (1e-6 of the side: 0.0003 px at 256 px). An image without targets gets
an empty label file.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mosaicflow.formats.images import IMAGE_SUFFIXES, list_images
from mosaicflow.formats.labelme import labelme_document
from mosaicflow.formats.masks import clip_to_image
from mosaicflow.io import atomic_dir, write_json
from mosaicflow.outputs import claim_output_dir, mark_output_dir

log = logging.getLogger(__name__)

_DECIMALS = 6
#: The command whose outputs :func:`yolo_to_labelme` writes (named by the folder's marker).
COMMAND = "convert yolo-to-labelme"


def normalise(polygon: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel-edge polygon -> normalised coordinates of its part inside the image
    (:func:`clip_to_image`)."""
    pts = clip_to_image(polygon, width, height) / [float(width), float(height)]
    return np.clip(pts, 0.0, 1.0)  # rounding at the bounds


def _fmt(value: float) -> str:
    text = f"{value:.{_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def seg_line(class_id: int, polygon: np.ndarray, width: int, height: int) -> str:
    """One YOLO segmentation line for a pixel polygon (normalised and clipped).

    Raises:
        ValueError: if fewer than 3 distinct vertices remain after rounding.
    """
    pts = np.round(normalise(polygon, width, height), _DECIMALS)
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)  # drop consecutive duplicates
    pts = pts[keep]
    if len(pts) > 1 and (pts[0] == pts[-1]).all():
        pts = pts[:-1]
    if len(np.unique(pts, axis=0)) < 3:
        raise ValueError("polygon has fewer than 3 distinct vertices inside the image")
    return " ".join([str(int(class_id)), *(_fmt(v) for v in pts.reshape(-1))])


def det_line(class_id: int, polygon: np.ndarray, width: int, height: int) -> str:
    """One YOLO detection line: the box around the polygon's part inside the image,
    normalised.

    Raises:
        ValueError: the polygon lies outside the image.
    """
    pts = normalise(polygon, width, height)
    if len(pts) == 0:
        raise ValueError("polygon lies outside the image")
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    values = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
    return " ".join([str(int(class_id)), *(_fmt(v) for v in values)])


def label_text(lines: Sequence[str]) -> str:
    """Join label lines into file content (empty string for no targets)."""
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class YoloLabel:
    """One label line: class id and normalised points ((N, 2); detection: the 4 box corners)."""

    class_id: int
    points: np.ndarray


def read_yolo_labels(path: Path, num_classes: int | None = None) -> list[YoloLabel]:
    """Read a YOLO segmentation or detection label file strictly.

    Detection lines (``cls cx cy w h``) are returned as their 4 box corners.

    Raises:
        ValueError: naming the file for one that is not text; naming file and line for
            non-numeric values, odd coordinate counts, coordinates outside [0, 1] or class ids
            outside ``[0, num_classes)``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err})") from err
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            values = [float(v) for v in raw.split()]
        except ValueError as err:
            raise ValueError(f"{where}: non-numeric value ({err})") from err
        cls, coords = values[0], np.asarray(values[1:], dtype=np.float64)
        if (
            not np.isfinite(cls)
            or cls != int(cls)
            or cls < 0
            or (num_classes is not None and cls >= num_classes)
        ):
            raise ValueError(f"{where}: invalid class id {values[0]:g}")
        if len(coords) == 4:
            cx, cy, w, h = coords
            pts = np.array(
                [
                    [cx - w / 2, cy - h / 2],
                    [cx + w / 2, cy - h / 2],
                    [cx + w / 2, cy + h / 2],
                    [cx - w / 2, cy + h / 2],
                ]
            )
        elif len(coords) >= 6 and len(coords) % 2 == 0:
            pts = coords.reshape(-1, 2)
        else:
            raise ValueError(f"{where}: expected 4 (box) or an even number >= 6 of coordinates")
        if not np.isfinite(pts).all() or pts.min() < -1e-6 or pts.max() > 1 + 1e-6:
            raise ValueError(f"{where}: coordinates outside [0, 1]")
        out.append(YoloLabel(int(cls), np.clip(pts, 0.0, 1.0)))
    return out


def find_image(images_dir: Path, stem: str) -> Path | None:
    """The image named ``stem`` with a known suffix in ``images_dir`` (None if absent)."""
    for suffix in IMAGE_SUFFIXES:
        for candidate in (images_dir / f"{stem}{suffix}", images_dir / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ImportError) as err:  # ImportError: ultralytics' HEIF patch of PIL
        raise ValueError(f"{path}: cannot read image ({err})") from err


@dataclass(frozen=True)
class LabelmeExportResult:
    """Outcome of :func:`yolo_to_labelme`."""

    out_dir: Path
    images: int
    shapes: int


def yolo_to_labelme(
    images_dir: Path,
    labels_dir: Path,
    names: Sequence[str],
    out_dir: Path,
    embed_images: bool = False,
    empty_flag: str | None = None,
) -> LabelmeExportResult:
    """Turn YOLO labels (e.g. model predictions) into editable labelme polygons.

    Every image in ``images_dir`` gets ``<stem>.json`` in ``out_dir`` plus a copy of the image
    (``imagePath`` is the bare file name, so the folder is self-contained for labelme and for
    :func:`mosaicflow.formats.dataset.labelme_to_yolo_dataset`). A missing label file means no
    targets. The folder is written atomically.

    Args:
        images_dir: images of the YOLO dataset split.
        labels_dir: matching ``<stem>.txt`` label files (segmentation or detection lines); an
            image without one has no targets.
        names: class names; class id i becomes label ``names[i]``.
        out_dir: the labelme folder to create (replaced atomically if it exists; new, empty or
            an earlier output, apart from the inputs).
        embed_images: also embed each image as base64 ``imageData``.
        empty_flag: when set, images without targets get this flag set to true.

    Returns:
        Counts of images and shapes written.
    """
    images_dir, labels_dir = Path(images_dir), Path(labels_dir)
    out_dir = claim_output_dir(out_dir, COMMAND, [images_dir, labels_dir])
    images = list_images(images_dir)
    if not images:
        raise ValueError(f"{images_dir}: no images found")
    if not labels_dir.is_dir():
        raise ValueError(f"{labels_dir}: labels folder not found")
    stems: dict[str, Path] = {}
    for image in images:
        if image.stem in stems:
            raise ValueError(f"{image}: same stem as {stems[image.stem]}; both would be "
                             f"{image.stem}.json with the labels of {image.stem}.txt")  # fmt: skip
        stems[image.stem] = image
    labels_by_stem = {p.stem for p in labels_dir.glob("*.txt")}
    orphans = labels_by_stem - {p.stem for p in images}
    if orphans:
        raise ValueError(f"{labels_dir}: label files without an image: {sorted(orphans)[:5]}")
    docs = []
    total = 0
    for image in images:
        width, height = _image_size(image)
        label_file = labels_dir / f"{image.stem}.txt"
        entries = read_yolo_labels(label_file, len(names)) if label_file.is_file() else []
        polygons = [(names[e.class_id], e.points * [float(width), float(height)]) for e in entries]
        flags = {empty_flag: not polygons} if empty_flag else {}
        data = image.read_bytes() if embed_images else None
        docs.append((image, labelme_document(polygons, width, height, image.name, data, flags)))
        total += len(polygons)
    with atomic_dir(out_dir) as tmp:
        mark_output_dir(tmp, COMMAND)
        for image, doc in docs:
            shutil.copyfile(image, tmp / image.name)
            write_json(tmp / f"{image.stem}.json", doc)
    log.info("wrote %d labelme files with %d shapes to %s", len(docs), total, out_dir)
    return LabelmeExportResult(out_dir, len(docs), total)
