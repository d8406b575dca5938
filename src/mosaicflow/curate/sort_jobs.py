"""What ``mosaicflow sort`` reads and writes: items from a folder of crops or from a
restoration dataset's kept clips; the sorted table and its contact sheet."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mosaicflow.curate.sorting import Item, best, contact_sheet, sort_by
from mosaicflow.io import atomic_path, write_parquet

LOG = logging.getLogger(__name__)


def check_whole(path: Path) -> None:
    """Decode every pixel of an image file with Pillow, which fails on a cut file where OpenCV
    fills the missing rows with grey.

    Raises:
        ValueError: a truncated or undecodable file (names it).
    """
    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # OpenCV has read it already: no size is refused here
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ImportError) as err:
        # ImportError: ultralytics patches Image.open to try an optional HEIF plugin
        raise ValueError(f"{path}: not a whole readable image ({err})") from err
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB (names the file when it cannot be read or is cut short)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    check_whole(path)  # after OpenCV: a file Pillow cannot identify is already refused
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def folder_items(folder: Path, masks: Path | None = None) -> list[Item]:
    """Every image of ``folder``; with ``masks``, the mask of the same stem from that folder
    (0/255 grey, same size).

    Raises:
        ValueError: an unreadable image, a missing mask or one of another size (names it).
    """
    from mosaicflow.formats.images import list_images

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    by_stem = {p.stem: p for p in list_images(Path(masks))} if masks else {}
    items = []
    for path in list_images(folder):
        image = read_rgb(path)
        mask = None
        if masks:
            if path.stem not in by_stem:
                raise ValueError(f"{path}: no mask {path.stem}.* in {masks}")
            mask = cv2.imread(str(by_stem[path.stem]), cv2.IMREAD_GRAYSCALE)
            if mask is None or mask.shape != image.shape[:2]:
                raise ValueError(f"{by_stem[path.stem]}: not a mask of the size of {path}")
            check_whole(by_stem[path.stem])
        items.append(Item(path.name, image, mask, extra={"path": str(path)}))
    if not items:
        raise ValueError(f"{folder}: no images to sort")
    return items


def edge_share(meta: dict) -> float:
    """Share of a clip's detected frames whose region box touches the source frame's edge."""
    height, width = meta["source_shape"][:2]
    boxes = [f["region_box"] for f in meta["per_frame"] if f["detected"]]
    if not boxes:
        return 0.0
    touching = [
        x0 <= 0 or y0 <= 0 or x1 >= width - 1 or y1 >= height - 1 for x0, y0, x1, y1 in boxes
    ]
    return float(np.mean(touching))


def clip_items(dataset_dir: Path) -> list[Item]:
    """The kept clips of a restoration dataset, each as its middle frame and mask."""
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.datasets.clips.media import read_video
    from mosaicflow.datasets.clips.meta import read_clip_meta

    dataset_dir = Path(dataset_dir)
    if not (dataset_dir / "index.parquet").is_file():
        raise ValueError(
            f"{dataset_dir}: not a restoration dataset (no index.parquet; --clips takes "
            "results/restoration_dataset)"
        )
    index = read_index(dataset_dir / "index.parquet")
    items = []
    for row in index[index["kept"].astype(bool)].sort_values("clip").itertuples():
        frames = read_video(dataset_dir / row.clip_path)
        masks = read_video(dataset_dir / row.mask_path, fmt="gray")
        middle = len(frames) // 2
        meta = read_clip_meta(dataset_dir / row.meta_path)
        extra = {"path": str(dataset_dir / row.clip_path)}
        quality = getattr(row, "source_quality", None)
        quality = None if quality is None or pd.isna(quality) else float(quality)
        items.append(
            Item(
                str(row.clip),
                frames[middle],
                masks[middle],
                edge=edge_share(meta),
                quality=quality,
                extra=extra,
            )
        )
    if not items:
        raise ValueError(f"{dataset_dir}: no kept clips to sort")
    return items


def write_sorted(
    items: Sequence[Item], key: str, out_dir: Path, *, n: int | None = None, pool: int = 3
) -> pd.DataFrame:
    """Sort (or pick the ``n`` best with ``key == "best"``) and write ``sorted.parquet``,
    ``sorted.tsv`` (rank, name, measure, path) and ``sheet.png`` into ``out_dir``."""
    if key == "best":
        if n is None:
            raise ValueError("sort key 'best' needs --best N")
        ordered = best(items, n, pool)
    else:
        ordered = sort_by(items, key)
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(ordered) + 1),
            "name": [item.name for item, _ in ordered],
            "key": key,
            "value": [float(v) for _, v in ordered],
            "path": [str(item.extra.get("path", "")) for item, _ in ordered],
        }
    )
    out_dir = Path(out_dir)
    write_parquet(out_dir / "sorted.parquet", table)
    with atomic_path(out_dir / "sorted.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    sheet = contact_sheet(ordered, key)
    with atomic_path(out_dir / "sheet.png", suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{out_dir / 'sheet.png'}: cannot write the contact sheet")
    LOG.info("%d items sorted by %s into %s", len(table), key, out_dir)
    return table
