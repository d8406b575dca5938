"""COCO instance segmentation: from binary masks, and to YOLO labels.

Masks -> COCO: one annotation per 8-connected component. A component without holes gets a
polygon (from its exact contour, see :mod:`mosaicflow.formats.masks`); a component with holes
gets a compressed RLE, because COCO polygons cannot subtract (pycocotools unions the parts).
``area`` is the pixel count, ``bbox`` the pixel box, ``iscrowd`` 0.

COCO -> YOLO is our own converter (ultralytics' ``convert_coco`` remaps class ids, skips RLE,
appends to label files and renames folders on reruns): class ids follow the configured names,
every image gets a label file (empty without annotations), polygons are normalised and clipped
to [0, 1]. YOLO has no holes and one polygon per line, so RLE and multi-part polygons are
decoded to a mask and each component becomes one polygon with its holes joined by zero-width
bridges (exact under the even-odd fill rule). ``iscrowd`` annotations are skipped and counted.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.formats.images import is_image
from mosaicflow.formats.masks import bridge_holes, instance_mask, mask_to_instances, read_mask
from mosaicflow.formats.yolo import det_line, label_text, seg_line
from mosaicflow.io import atomic_dir, read_json, write_json, write_text
from mosaicflow.outputs import check_apart, claim_output_dir, mark_output_dir

log = logging.getLogger(__name__)

#: The command whose outputs :func:`coco_to_yolo` writes (named by the folder's marker).
COCO_TO_YOLO = "convert coco-to-yolo"


def _rle_to_json(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def mask_annotations(
    mask: np.ndarray, image_id: int, category_id: int, first_id: int
) -> list[dict[str, Any]]:
    """COCO annotations for the components of one binary mask.

    Args:
        mask: 2-D mask, non-zero = foreground.
        image_id: the COCO image id.
        category_id: the COCO category id of every component.
        first_id: id of the first annotation (the next ones count up).

    Returns:
        One annotation per connected component.
    """
    from pycocotools import mask as mask_utils

    height, width = mask.shape
    anns = []
    for k, inst in enumerate(mask_to_instances(mask)):
        if inst.holes:
            binary = np.asfortranarray(instance_mask(inst, height, width).astype(np.uint8))
            segmentation: Any = _rle_to_json(mask_utils.encode(binary))
        else:
            segmentation = [[round(float(v), 2) for v in inst.outer.reshape(-1)]]
        anns.append(
            {
                "id": first_id + k,
                "image_id": image_id,
                "category_id": category_id,
                "segmentation": segmentation,
                "area": int(inst.area),
                "bbox": [int(v) for v in inst.bbox],
                "iscrowd": 0,
            }
        )
    return anns


@dataclass(frozen=True)
class CocoResult:
    """Outcome of :func:`masks_to_coco`."""

    path: Path
    images: int
    annotations: int


def category_folders(mask_dir: Path, categories: Sequence[str]) -> list[Path]:
    """The mask folder of each category: ``mask_dir`` itself with one category,
    ``mask_dir/<category>`` with several."""
    mask_dir = Path(mask_dir)
    return [mask_dir] if len(categories) == 1 else [mask_dir / name for name in categories]


#: The ``info.description`` of the COCO files :func:`masks_to_coco` writes.
MASKS_TO_COCO = "mosaicflow masks_to_coco"


def _check_replaceable(out_json: Path) -> None:
    """Refuse to replace a file that is not a COCO file :func:`masks_to_coco` wrote (it may be
    the user's).

    Raises:
        ValueError: naming the file.
    """
    if out_json.is_dir():
        raise ValueError(f"{out_json}: is a folder; give the COCO file's path")
    if not out_json.exists():
        return
    try:
        info = read_json(out_json).get("info") or {}
        ours = info.get("description") == MASKS_TO_COCO
    except (AttributeError, UnicodeDecodeError, ValueError):
        ours = False
    if not ours:
        raise ValueError(f"{out_json}: exists and is not a COCO file masks-to-coco wrote; "
                         "choose a new path (it would be replaced)")  # fmt: skip


def masks_to_coco(
    mask_dir: Path,
    categories: Sequence[str],
    out_json: Path,
    image_dir: Path | None = None,
    folders: Sequence[Path] | None = None,
) -> CocoResult:
    """Write a COCO instance-segmentation file from binary mask PNGs.

    With one category the masks are ``mask_dir/<stem>.png``; with several they are
    ``mask_dir/<category>/<stem>.png`` (:func:`category_folders`; a stem may appear under
    several categories; all masks of a stem must have the same size). ``file_name`` is the
    matching image in ``image_dir`` (any common suffix) or, without ``image_dir``,
    ``<stem>.png``.

    Args:
        mask_dir: folder of masks (see above).
        categories: category names; category id = index + 1.
        out_json: the COCO JSON to write (atomically; never an input or inside one; an
            existing file only when an earlier run wrote it).
        image_dir: folder of the images the masks belong to (optional).
        folders: the mask folder of each category, in order, where they are not laid out
            under ``mask_dir`` as above.

    Returns:
        Counts of images and annotations.

    Raises:
        ValueError: naming the file for non-binary masks, size mismatches or missing images.
    """
    mask_dir = Path(mask_dir)
    if not categories:
        raise ValueError("at least one category is needed")
    folders = [Path(f) for f in folders] if folders else category_folders(mask_dir, categories)
    if len(folders) != len(categories):
        raise ValueError(f"{len(folders)} mask folders for {len(categories)} categories")
    check_apart(out_json, [*folders, image_dir])
    _check_replaceable(Path(out_json))
    sources: dict[str, list[tuple[int, Path]]] = {}
    for cid, folder in enumerate(folders, start=1):
        if not folder.is_dir():
            raise ValueError(f"{folder}: mask folder not found")
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png"):
            sources.setdefault(path.stem, []).append((cid, path))
    if not sources:
        raise ValueError(f"{mask_dir}: no mask PNGs found")
    images, annotations = [], []
    for image_id, stem in enumerate(sorted(sources), start=1):
        size = None
        file_name = f"{stem}.png"
        if image_dir is not None:
            found = [
                p
                for p in sorted(Path(image_dir).glob(f"{stem}.*"))
                if is_image(p) and p.stem == stem
            ]
            if not found:
                raise ValueError(f"{image_dir}: no image for mask '{stem}'")
            if len(found) > 1:
                raise ValueError(f"{image_dir}: images {[p.name for p in found]} all match the "
                                 f"mask '{stem}'; keep one")  # fmt: skip
            file_name = found[0].name
        for cid, path in sources[stem]:
            mask = read_mask(path)
            if size is not None and mask.shape != size:
                raise ValueError(f"{path}: size {mask.shape} differs from other masks of '{stem}'")
            size = mask.shape
            annotations += mask_annotations(mask, image_id, cid, len(annotations) + 1)
        assert size is not None
        images.append({"id": image_id, "file_name": file_name, "height": size[0], "width": size[1]})
    doc = {
        "info": {"description": MASKS_TO_COCO, "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i, "name": n, "supercategory": "region"}
            for i, n in enumerate(categories, start=1)
        ],
    }
    write_json(out_json, doc)
    return CocoResult(Path(out_json), len(images), len(annotations))


#: The longest image side a COCO annotation is decoded at (a larger one is a broken file).
MAX_SIDE = 65536


def _check_polygons(seg: list[Any]) -> None:
    """Every polygon part is an even-length list of finite numbers.

    Raises:
        ValueError: saying which rule a part breaks.
    """
    for part in seg:
        if not isinstance(part, list) or len(part) % 2:
            raise ValueError("a polygon is a list of x, y numbers (an even count)")
        try:
            finite = bool(np.isfinite(np.asarray(part, dtype=np.float64)).all())
        except (TypeError, ValueError, OverflowError):
            finite = False
        if not finite:
            raise ValueError("a polygon holds a value that is not a finite number")


def annotation_mask(ann: dict[str, Any], height: int, width: int) -> np.ndarray:
    """Decode a COCO annotation's segmentation (polygons, RLE or uncompressed RLE)."""
    from pycocotools import mask as mask_utils

    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise ValueError(f"its image size {width}x{height} is not 1 to {MAX_SIDE} pixels a side")
    seg = ann["segmentation"]
    if isinstance(seg, list):
        _check_polygons(seg)
        parts = [p for p in seg if len(p) >= 6]
        if len(parts) < len(seg):  # as COCO loaders do: a part under 3 points has no area
            log.warning("annotation %s: %d polygon parts under 3 points left out",
                        ann.get("id"), len(seg) - len(parts))  # fmt: skip
        if not parts:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(parts, height, width))
        return mask_utils.decode(rle).astype(bool)
    if not isinstance(seg, dict) or "counts" not in seg:
        raise ValueError("segmentation is neither polygons nor an RLE with 'counts'")
    if list(seg.get("size", [])) != [height, width]:
        raise ValueError(f"its RLE is {seg.get('size')} (height, width), its image "
                         f"{[height, width]}")  # fmt: skip
    if isinstance(seg["counts"], list):
        counts = seg["counts"]
        if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
            raise ValueError(f"its RLE counts do not add up to the {height}x{width} image")
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    return mask_utils.decode(rle).astype(bool)


def annotation_polygons(ann: dict[str, Any], height: int, width: int) -> list[np.ndarray]:
    """YOLO-ready polygons (pixel coordinates, one per component, holes bridged).

    A single hole-free polygon is used as is; anything else (RLE, several parts) goes through
    the decoded mask so overlapping parts and holes come out right.
    """
    seg = ann["segmentation"]
    if isinstance(seg, list) and len(seg) == 1 and isinstance(seg[0], list) and len(seg[0]) >= 6:
        _check_polygons(seg)
        return [np.asarray(seg[0], dtype=np.float64).reshape(-1, 2)]
    mask = annotation_mask(ann, height, width)
    return [bridge_holes(inst.outer, inst.holes) for inst in mask_to_instances(mask)]


@dataclass(frozen=True)
class CocoToYoloResult:
    """Outcome of :func:`coco_to_yolo`."""

    out_dir: Path
    images: int
    instances: int
    crowd_skipped: int


def _read_instances(
    coco_json: Path,
) -> tuple[dict[Any, str], dict[Any, dict[str, Any]], list[dict[str, Any]]]:
    """A COCO file's categories (id -> name), images by id and annotations, their types checked.

    Raises:
        ValueError: naming the file when it is not UTF-8 JSON or not a COCO instances file.
    """
    doc = read_json(coco_json)
    try:
        cats = {c["id"]: c["name"] for c in doc["categories"]}
        images = {im["id"]: im for im in doc["images"]}
        anns = list(doc["annotations"])
        for ann in anns:
            for key in ("id", "image_id", "category_id", "segmentation"):
                if key not in ann:
                    raise KeyError(f"annotation {ann.get('id', '?')} has no {key!r}")
            if not isinstance(ann["id"], int) or isinstance(ann["id"], bool):
                raise TypeError(f"annotation id {ann['id']!r} is not an integer")
        for name in cats.values():
            if not isinstance(name, str):
                raise TypeError(f"category name {name!r} is not a string")
        for im in images.values():
            for key in ("height", "width"):
                size = im.get(key)
                if isinstance(size, bool) or not isinstance(size, int | float) or size < 1:
                    raise TypeError(f"image {im['id']!r} has no positive {key!r}")
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{coco_json}: not a COCO instances file ({err})") from err
    return cats, images, anns


def coco_to_yolo(
    coco_json: Path,
    names: Sequence[str],
    out_dir: Path,
    *,
    task: str = "segment",
    image_dir: Path | None = None,
) -> CocoToYoloResult:
    """Convert a COCO instance file to YOLO labels (``out_dir/labels``, ``out_dir/images``).

    Args:
        coco_json: the COCO file.
        names: class names; a category's class id is the index of its name here.
        out_dir: output folder (replaced atomically; new, empty or an earlier output, apart
            from the inputs).
        task: ``segment`` (polygons) or ``detect`` (boxes of the polygons).
        image_dir: when given, images (``file_name`` relative to it, never outside it) are
            copied to ``out_dir/images``.

    Returns:
        Counts of images, label lines and skipped crowd annotations.

    Raises:
        ValueError: naming the file for categories not in ``names``, annotations of unknown
            categories or images, ``file_name`` values that leave ``image_dir`` or missing
            images.
    """
    if task not in ("segment", "detect"):
        raise ValueError(f"task must be 'segment' or 'detect', got {task!r}")
    coco_json = Path(coco_json)
    out_dir = claim_output_dir(out_dir, COCO_TO_YOLO, [coco_json, image_dir])
    cats, images, anns = _read_instances(coco_json)
    for im in images.values():
        _check_file_name(coco_json, im)
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({n for n in cats.values() if n not in index})
    if unknown:
        raise ValueError(f"{coco_json}: categories {unknown} are not in the names {list(names)}")
    lines: dict[int, list[str]] = {i: [] for i in images}
    crowd = 0
    for ann in sorted(anns, key=lambda a: a["id"]):
        if ann["image_id"] not in images:
            raise ValueError(f"{coco_json}: annotation {ann['id']} names unknown image")
        if ann["category_id"] not in cats:
            raise ValueError(
                f"{coco_json}: annotation {ann['id']} has category_id {ann['category_id']!r}, "
                f"which is not in categories (ids {sorted(cats)})"
            )
        if ann.get("iscrowd", 0):
            crowd += 1
            continue
        im = images[ann["image_id"]]
        cls = index[cats[ann["category_id"]]]
        h, w = int(im["height"]), int(im["width"])
        try:
            polygons = annotation_polygons(ann, h, w)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise ValueError(
                f"{coco_json}: annotation {ann['id']}: malformed segmentation ({err})"
            ) from err
        for poly in polygons:
            try:
                if task == "segment":
                    lines[ann["image_id"]].append(seg_line(cls, poly, w, h))
                else:
                    lines[ann["image_id"]].append(det_line(cls, poly, w, h))
            except ValueError as err:
                log.warning("%s: annotation %s skipped: %s", coco_json, ann["id"], err)
    stems = {}
    for image_id, im in images.items():
        stem = Path(im["file_name"]).stem
        if stem in stems:
            raise ValueError(
                f"{coco_json}: two images named '{stem}' (ids {stems[stem]}, {image_id})"
            )
        stems[stem] = image_id
        if image_dir is not None and not (Path(image_dir) / im["file_name"]).is_file():
            raise ValueError(f"{coco_json}: image {im['file_name']} not found in {image_dir}")
    with atomic_dir(out_dir) as tmp:
        mark_output_dir(tmp, COCO_TO_YOLO)
        (tmp / "labels").mkdir()
        for image_id, im in images.items():
            stem = Path(im["file_name"]).stem
            write_text(tmp / "labels" / f"{stem}.txt", label_text(lines[image_id]))
            if image_dir is not None:
                (tmp / "images").mkdir(exist_ok=True)
                src = Path(image_dir) / im["file_name"]
                shutil.copyfile(src, tmp / "images" / Path(im["file_name"]).name)
    total = sum(len(v) for v in lines.values())
    return CocoToYoloResult(out_dir, len(images), total, crowd)


def _check_file_name(coco_json: Path, image: dict[str, Any]) -> None:
    """Refuse an image whose ``file_name`` is absolute or climbs out of the image folder."""
    name = image.get("file_name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{coco_json}: image {image.get('id')} has no file_name")
    parts = Path(name.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts:
        raise ValueError(
            f"{coco_json}: image {image.get('id')} has file_name {name!r}, which leaves the "
            "image folder (an absolute path or '..'); file names are relative to it"
        )


def load_coco(path: Path) -> Any:
    """Load a COCO file with ``pycocotools.coco.COCO`` (quietly), naming the file on errors."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(path))
    except (json.JSONDecodeError, KeyError, TypeError, AssertionError) as err:
        raise ValueError(f"{path}: pycocotools cannot load it ({err})") from err
