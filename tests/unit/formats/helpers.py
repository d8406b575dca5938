"""Helpers of the formats tests: tiny labelme folders, ultralytics' dataset check."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def write_image(path: Path, width: int, height: int, seed: int = 0) -> bytes:
    """Write a small random image (format from the suffix) and return its bytes."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())
    return buf.tobytes()


def labelme_shape(label: str, points: Sequence[Sequence[float]], kind: str = "polygon") -> dict:
    return {
        "label": label,
        "points": [list(map(float, p)) for p in points],
        "group_id": None,
        "description": "",
        "shape_type": kind,
        "flags": {},
    }


def make_labelme(
    folder: Path,
    stem: str,
    shapes: Sequence[dict[str, Any]] = (),
    size: tuple[int, int] = (64, 48),
    flags: dict[str, bool] | None = None,
    embed: bool = False,
    suffix: str = ".jpg",
    seed: int = 0,
) -> Path:
    """Write ``folder/<stem>.json`` (+ the image unless embedded) and return the JSON path."""
    width, height = size
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / f"{stem}{suffix}"
    data = write_image(image, width, height, seed)
    if embed:
        image.unlink()
    doc = {
        "version": "5.5.0",
        "flags": flags or {},
        "shapes": list(shapes),
        "imagePath": image.name,
        "imageData": base64.b64encode(data).decode() if embed else None,
        "imageHeight": height,
        "imageWidth": width,
    }
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(doc))
    return path


def yolo_dataset_check(ultralytics_offline: Any, data_yaml: Path, split: str, task: str) -> tuple:
    """Build ultralytics' YOLODataset for a split; return (found, missing, empty, corrupt)."""
    import yaml
    from ultralytics.cfg import get_cfg
    from ultralytics.data.dataset import YOLODataset

    data = yaml.safe_load(data_yaml.read_text())
    data["names"] = {int(k): v for k, v in data["names"].items()}
    hyp = get_cfg()
    dataset = YOLODataset(
        img_path=data[split],
        data=data,
        task=task,
        imgsz=64,
        augment=False,
        hyp=hyp,
        prefix=f"{split}: ",
    )
    cache = dataset.cache_labels(Path(data_yaml).parent / f"check-{split}.cache")
    nf, nm, ne, nc, _ = cache["results"]
    return nf, nm, ne, nc, dataset
