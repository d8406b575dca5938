"""The mosaic detector's predictions on the detection dataset's images, for inspection.

One row per predicted mosaic (the ``regions.parquet`` columns of :mod:`mosaicflow.yolo.infer`: box,
score, COCO RLE mask) plus ``image``, the image's path inside the dataset; an image without a
prediction gets one row with ``instance = -1``. The table is cached under a key of the model's
bytes, the images' names, sizes and modification times and the settings, so a second ``mosaicflow
inspect`` reuses it and a retrained detector or a rebuilt dataset predicts again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

#: Dataset splits whose images are predicted by default (the training images are seen).
DEFAULT_SPLITS = ("val", "test")


def dataset_images(dataset_dir: Path, splits: Sequence[str]) -> list[Path]:
    """The images of ``splits`` of a detection dataset, in split then name order."""
    from mosaicflow.formats.images import list_images

    images: list[Path] = []
    for split in splits:
        folder = Path(dataset_dir) / split / "images"
        if folder.is_dir():
            images += list_images(folder)
    return images


def prediction_key(model: Path, images: Sequence[Path], settings: dict[str, object]) -> str:
    """The cache key of a prediction table (model bytes; image names, sizes and modification
    times; settings)."""
    from mosaicflow.provenance import file_hash

    digest = hashlib.sha256(file_hash(model).encode())
    for image in images:
        stat = image.stat()
        digest.update(
            f"{image.parent.parent.name}/{image.name}:{stat.st_size}:{stat.st_mtime_ns}\0".encode()
        )
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def predict_images(
    model_path: Path,
    dataset_dir: Path,
    out_dir: Path,
    *,
    splits: Sequence[str] = DEFAULT_SPLITS,
    conf: float = 0.05,
    iou: float = 0.5,
    imgsz: int = 640,
    device: str = "auto",
    batch: int = 16,
    threads: int = 2,
) -> Path:
    """Predict the mosaics of a detection dataset's images (cached, see the module docstring).

    Args:
        model_path: the mosaic detector's ``best.pt``.
        dataset_dir: the detection dataset (``results/detection_dataset``).
        out_dir: the cache folder (``results/inspect``); the table is
            ``predictions-<key>.parquet`` in it.
        splits: the splits whose images are predicted.
        conf, iou, imgsz, device, batch: inference settings (a low ``conf`` keeps the
            uncertain predictions, which the App's confidence slider then filters).
        threads: CPU threads.

    Returns:
        The table's path.

    Raises:
        ValueError: naming the file for a model that is not a YOLO segmentation model, or the
            folder when the splits hold no image.
    """
    import cv2

    from mosaicflow.io import write_parquet
    from mosaicflow.yolo.detect import load_detector
    from mosaicflow.yolo.infer import result_rows, rows_frame
    from mosaicflow.yolo.scoring import batched

    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    images = dataset_images(dataset_dir, splits)
    if not images:
        raise ValueError(f"{dataset_dir}: no images in the splits {list(splits)}")
    settings = {"conf": conf, "iou": iou, "imgsz": imgsz, "splits": list(splits)}
    out = out_dir / f"predictions-{prediction_key(Path(model_path), images, settings)}.parquet"
    if out.is_file():
        log.info("predictions cached in %s", out)
        return out
    model = load_detector(
        Path(model_path), config_dir=out_dir / ".yolo_config", threads=threads, device=device
    )
    frames: list[pd.DataFrame] = []
    for number, chunk in enumerate(batched(images, batch)):
        arrays = [cv2.imread(str(path), cv2.IMREAD_COLOR) for path in chunk]
        results = model.predict(arrays, conf=conf, iou=iou, imgsz=imgsz, retina_masks=True)
        for i, (path, result) in enumerate(zip(chunk, results, strict=True)):
            table = rows_frame(result_rows(number * batch + i, 0.0, result))
            table.insert(0, "image", path.relative_to(dataset_dir).as_posix())
            frames.append(table)
        log.info("predicted %d of %d images", min((number + 1) * batch, len(images)), len(images))
    write_parquet(out, pd.concat(frames, ignore_index=True))
    return out
