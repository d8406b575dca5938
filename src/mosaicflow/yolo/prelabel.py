"""Model-assisted labelling: segmenter predictions as labelme JSON to correct, not draw.

The Lada workflow's review loop: run the model on new material, look at the frames it is least
sure about, fix its polygons in labelme and add them to the training set.
:func:`prelabel_images` turns any folder of images into labelme files;
:func:`prelabel_uncertain` picks the N least confident kept frames of the source videos from
their ``regions.parquet`` (lowest best score among frames with a detection).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mosaicflow.formats.images import IMAGE_SUFFIXES, list_images
from mosaicflow.io import atomic_dir, read_json, write_bytes, write_json
from mosaicflow.outputs import claim_output_dir
from mosaicflow.provenance import file_hash
from mosaicflow.writing import writing_into

log = logging.getLogger(__name__)

JPEG_QUALITY = 95
#: Images predicted per call.
BATCH = 16
#: The command whose outputs :func:`prelabel_images` writes (named by the folder's marker).
COMMAND = "prelabel"
#: In a prelabel folder: the hash of each labelme JSON as prelabel wrote it, so that a rerun
#: keeps the files corrected since (no ``.json`` suffix: labelme folders are globbed).
WRITTEN = ".mosaicflow-prelabel-written"


def mask_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """Polygons (pixel coordinates) of a binary mask: one per component, holes bridged in."""
    from mosaicflow.formats.masks import bridge_holes, mask_to_instances

    return [bridge_holes(inst.outer, inst.holes) for inst in mask_to_instances(mask)]


def result_document(
    result: Any, names: Mapping[int, str], image_name: str, width: int, height: int
) -> dict[str, Any]:
    """A labelme document of one ultralytics result.

    Each instance of a segmentation result becomes one polygon per connected component, each
    box of a detection result (no masks) a four-corner polygon, labelled with its class name;
    the instance's score is kept in the shape's ``description`` (``score=0.734``) for review.
    """
    from mosaicflow.formats.labelme import labelme_document

    polygons: list[tuple[str, np.ndarray]] = []
    scores: list[float] = []
    if result.masks is not None and result.boxes is not None:
        masks = result.masks.data.cpu().numpy() > 0.5
        classes = result.boxes.cls.cpu().numpy().astype(int)
        confs = result.boxes.conf.cpu().numpy()
        for mask, cls, score in zip(masks, classes, confs, strict=True):
            for poly in mask_polygons(mask):
                polygons.append((names[int(cls)], poly))
                scores.append(float(score))
    elif result.boxes is not None and len(result.boxes):
        boxes = result.boxes.xyxy.cpu().numpy()
        classes = result.boxes.cls.cpu().numpy().astype(int)
        for (x0, y0, x1, y1), cls, score in zip(
            boxes, classes, result.boxes.conf.cpu().numpy(), strict=True
        ):
            corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
            polygons.append((names[int(cls)], corners))
            scores.append(float(score))
    doc = labelme_document(polygons, width, height, image_name)
    for shape, score in zip(doc["shapes"], scores, strict=True):
        shape["description"] = f"score={score:.3f}"
    return doc


@dataclass(frozen=True)
class PrelabelResult:
    """What a prelabel run wrote.

    Attributes:
        images: images written with their labelme JSON.
        shapes: polygons in them.
        kept: labelme JSON files of the folder changed since prelabel wrote them (or not
            written by it), left as they are with their images.
    """

    images: int
    shapes: int
    kept: list[str] = field(default_factory=list)


def _model(
    model_path: Path, config_dir: Path, threads: int, device: str, origin: str | None = None
) -> tuple[Any, str]:
    from mosaicflow.yolo.adapter import open_model

    yolo = open_model(
        model_path, task="segment", config_dir=config_dir, threads=threads, device=device,
        origin=origin,
    )  # fmt: skip
    return yolo.model, yolo.device


def _write(
    model: Any, items: Sequence[tuple[str, np.ndarray]], out: Path, kwargs: dict[str, Any]
) -> int:
    """Predict ``(stem, BGR image)`` items and write ``stem.jpg`` + ``stem.json`` into ``out``."""
    shapes = 0
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        results = model.predict([image for _, image in chunk], **kwargs)
        for (stem, image), result in zip(chunk, results, strict=True):
            height, width = image.shape[:2]
            name = f"{stem}.jpg"
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise OSError(f"{out / name}: JPEG encoding failed")
            write_bytes(out / name, data.tobytes())
            doc = result_document(result, model.names, name, width, height)
            write_json(out / f"{stem}.json", doc)
            shapes += len(doc["shapes"])
    return shapes


def prelabel_images(
    model_path: Path,
    input_dir: Path,
    output_dir: Path,
    *,
    conf: float,
    imgsz: int,
    device: str = "auto",
    threads: int = 1,
    origin: str | None = None,
) -> PrelabelResult:
    """Write labelme predictions (image + JSON) for every image of ``input_dir``.

    Args:
        model_path: segmenter weights (.pt).
        input_dir: folder of images.
        output_dir: labelme folder to write: new, empty or an earlier output of ``prelabel``
            (its files of the same name are replaced, but those corrected since: see
            :attr:`PrelabelResult.kept`), apart from the input folder.
        conf: minimum confidence of a region.
        imgsz: inference size.
        device: ``auto|cpu|cuda:N``.
        threads: CPU threads.
        origin: the option ``model_path`` came from (named in errors).

    Raises:
        ValueError: naming the folder when it holds no images, or may not be written; naming
            the images when two would write the same output name.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise ValueError(f"{input_dir}: input folder not found")
    claim_output_dir(output_dir, COMMAND, [input_dir, model_path])
    paths = list_images(input_dir)
    if not paths:
        raise ValueError(f"{input_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    stems: dict[str, Path] = {}
    for path in paths:
        if path.stem in stems:
            raise ValueError(
                f"{path}: same stem as {stems[path.stem]}; both would be {path.stem}.jpg"
            )
        stems[path.stem] = path
    config_dir = Path(tempfile.mkdtemp(prefix="mosaicflow-yolo-"))  # outside the labelme folder
    try:
        model, dev = _model(Path(model_path), config_dir, threads, device, origin)
        with writing_into(output_dir, COMMAND, [input_dir, model_path]) as output_dir:
            return _prelabel_paths(model, dev, paths, output_dir, conf, imgsz)
    finally:
        _remove_config_dir(config_dir)


def _remove_config_dir(config_dir: Path) -> None:
    """Remove a temporary ultralytics settings folder, at the process's exit where ultralytics
    was first imported with it (it keeps the folder as its settings folder from then on)."""
    import sys

    uutils = sys.modules.get("ultralytics.utils")
    bound = getattr(uutils, "USER_CONFIG_DIR", None)
    if bound is not None and Path(bound).resolve().is_relative_to(config_dir.resolve()):
        atexit.register(shutil.rmtree, config_dir, ignore_errors=True)
    else:
        shutil.rmtree(config_dir, ignore_errors=True)


def _prelabel_paths(
    model: Any, dev: str, paths: Sequence[Path], output_dir: Path, conf: float, imgsz: int
) -> PrelabelResult:
    written = _written(output_dir)
    kept = [f"{p.stem}.json" for p in paths if _changed(output_dir / f"{p.stem}.json", written)]
    if kept:
        why = (
            "changed since prelabel wrote them"
            if (output_dir / WRITTEN).exists()
            else "that prelabel has no record of writing (an earlier version's, or yours)"
        )
        log.warning("%s: kept %d labelme files %s: %s; delete a file to pre-label it again",
                    output_dir, len(kept), why, ", ".join(kept))  # fmt: skip
    items = []
    for path in paths:
        if f"{path.stem}.json" in kept:
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: cannot read image")
        items.append((path.stem, image))
    kwargs = {"imgsz": imgsz, "conf": conf, "device": dev, "retina_masks": True, "verbose": False}
    shapes = 0
    for start in range(0, len(items), BATCH):  # recorded batch by batch: a run stopped early
        batch = items[start : start + BATCH]  # leaves a record of what it wrote
        shapes += _write(model, batch, output_dir, kwargs)
        written |= {f"{stem}.json": file_hash(output_dir / f"{stem}.json") for stem, _ in batch}
        write_json(output_dir / WRITTEN, written)
    return PrelabelResult(len(items), shapes, kept)


def _written(folder: Path) -> dict[str, str]:
    """The hashes of the labelme JSON files prelabel wrote into ``folder`` ({} without a
    readable record)."""
    try:
        record = read_json(folder / WRITTEN)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _changed(labelme: Path, written: Mapping[str, str]) -> bool:
    """``labelme`` exists and is not the file prelabel wrote there (corrected since)."""
    return labelme.exists() and written.get(labelme.name) != file_hash(labelme)


def least_confident(tables: Mapping[str, pd.DataFrame], count: int) -> pd.DataFrame:
    """The ``count`` frames with the lowest best score among frames with a detection.

    Args:
        tables: ``regions.parquet`` tables by video id.
        count: how many frames.

    Returns:
        Columns ``video``, ``frame``, ``max_score``, ``instances``; ties broken by video, frame.
    """
    parts = []
    for video, table in sorted(tables.items()):
        found = table[table["instance"] >= 0]
        if len(found):
            per = found.groupby("frame").agg(
                max_score=("score", "max"), instances=("score", "size")
            )
            parts.append(per.reset_index().assign(video=video))
    if not parts:
        return pd.DataFrame(columns=["video", "frame", "max_score", "instances"])
    frames = pd.concat(parts, ignore_index=True)
    frames = frames.sort_values(["max_score", "video", "frame"], kind="stable").head(count)
    return frames[["video", "frame", "max_score", "instances"]].reset_index(drop=True)


def prelabel_uncertain(
    model_path: Path,
    videos: Mapping[str, Path],
    regions: Mapping[str, Path],
    out_dir: Path,
    *,
    count: int,
    conf: float,
    imgsz: int,
    device: str,
    threads: int,
    config_dir: Path,
) -> PrelabelResult:
    """Labelme predictions for the ``count`` least confident kept frames of ``videos``.

    Writes ``out_dir/<video>_<frame:06d>.{jpg,json}`` and ``selection.tsv`` (which frames and
    why) atomically.
    """
    from mosaicflow.video.decode import iter_frames

    tables = {vid: pd.read_parquet(path) for vid, path in regions.items()}
    chosen = least_confident(tables, count)
    model, dev = _model(Path(model_path), config_dir, threads, device)
    items: list[tuple[str, np.ndarray]] = []
    for vid, group in chosen.groupby("video", sort=True):
        frames = sorted(int(f) for f in group["frame"])
        for number, image in iter_frames(videos[str(vid)], frames, fmt="bgr24"):
            items.append((f"{vid}_{number:06d}", image))
    kwargs = {"imgsz": imgsz, "conf": conf, "device": dev, "retina_masks": True, "verbose": False}
    with atomic_dir(out_dir) as tmp:
        shapes = _write(model, items, tmp, kwargs)
        chosen.to_csv(tmp / "selection.tsv", sep="\t", index=False, float_format="%.4f")
    return PrelabelResult(len(items), shapes)
