"""YOLO datasets as the trainer sees them: read and hash ``data.yaml`` and its splits, mirror
them into a work folder (so ultralytics' label caches never land beside the inputs)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from mosaicflow.formats.images import list_images
from mosaicflow.io import load_yaml, write_text
from mosaicflow.provenance import file_hash


@dataclass(frozen=True)
class DatasetInfo:
    """A YOLO dataset as the trainer sees it (mirrored into the work folder)."""

    root: Path
    names: dict[int, str]
    splits: dict[str, Path]  # split -> absolute images folder
    data_hash: str
    counts: dict[str, int]
    train_repeats: dict[str, int] | None = None  # image file name -> times listed in training


def read_repeats(weights_parquet: Path) -> dict[str, int]:
    """Image file name -> multiplier of the training images, from a ``balance_detection``
    weights.parquet."""
    import pandas as pd

    table = pd.read_parquet(weights_parquet, columns=["image", "multiplier"])
    pairs = zip(table["image"], table["multiplier"], strict=True)
    return {Path(image).name: int(times) for image, times in pairs}


def with_repeats(info: DatasetInfo, repeats: dict[str, int], source: Path) -> DatasetInfo:
    """The dataset with its training images listed ``repeats[name]`` times (0: left out).

    Raises:
        ValueError: a training image without a multiplier, or none listed (naming ``source``).
    """
    names = [path.name for path in list_images(info.splits["train"])]
    missing = [name for name in names if name not in repeats]
    if missing:
        raise ValueError(
            f"{source}: no multiplier for {len(missing)} training images of {info.root} (first "
            f"{missing[0]}); the weights are of another dataset"
        )
    kept = {name: int(repeats[name]) for name in names}
    if not any(kept.values()):
        raise ValueError(f"{source}: every training image of {info.root} has multiplier 0")
    digest = hashlib.sha256(info.data_hash.encode())
    digest.update(json.dumps(kept, sort_keys=True).encode())
    counts = {**info.counts, "train_listed": sum(kept.values())}
    return dataclasses.replace(
        info, data_hash=digest.hexdigest()[:16], counts=counts, train_repeats=kept
    )


def read_dataset(dataset_dir: str | os.PathLike[str]) -> DatasetInfo:
    """Read a YOLO dataset folder (``data.yaml`` with names, ``train``/``val`` image folders).

    Paths in ``data.yaml`` may be absolute or relative to its ``path`` key (or to the folder).

    Raises:
        ValueError: naming the file when ``data.yaml`` is missing or lacks names or splits.
    """
    root = Path(dataset_dir).resolve()
    data_yaml = root / "data.yaml"
    if not data_yaml.is_file():
        raise ValueError(f"{data_yaml}: YOLO dataset description not found")
    data = load_yaml(data_yaml.read_text(encoding="utf-8")) or {}
    names = data.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise ValueError(f"{data_yaml}: no class 'names'")
    names = {int(k): str(v) for k, v in names.items()}
    base = Path(data.get("path") or root)
    if not base.is_absolute():
        base = root / base
    splits: dict[str, Path] = {}
    counts: dict[str, int] = {}
    digest = hashlib.sha256(json.dumps(names, sort_keys=True).encode())
    for split in ("train", "val"):
        if not data.get(split):
            raise ValueError(f"{data_yaml}: no '{split}' split")
        images = Path(data[split])
        images = images if images.is_absolute() else base / images
        labels = images.parent / "labels"
        if not images.is_dir() or images.name != "images" or not labels.is_dir():
            raise ValueError(
                f"{data_yaml}: split '{split}' must be an 'images' folder with a sibling "
                f"'labels' folder, got {images}"
            )
        found = list_images(images)
        label_files = sorted(labels.glob("*.txt"))
        odd = [path for path in label_files if not path.is_file()]
        if odd:  # a FIFO or a device would be read forever
            raise ValueError(f"{odd[0]}: a label file must be a regular file (a FIFO, device "
                             "or folder is refused)")  # fmt: skip
        splits[split] = images
        counts[f"{split}_images"] = len(found)
        for path in found + label_files:
            digest.update(f"{split}/{path.parent.name}/{path.name}".encode() + b"\0")
            digest.update(file_hash(path).encode() + b"\0")
    return DatasetInfo(root, names, splits, digest.hexdigest()[:16], counts)


def listed_train_images(info: DatasetInfo) -> int:
    """Training images an epoch goes through: each as often as it is listed."""
    return int(info.counts.get("train_listed", info.counts["train_images"]))


def label_instances(info: DatasetInfo, split: str = "train") -> int:
    """Labelled instances (label lines) of ``split``'s images; with repeats, a training image's
    instances count each time it is listed."""
    images = info.splits[split]
    repeats = info.train_repeats if split == "train" else None
    total = 0
    for image in list_images(images):
        label = images.parent / "labels" / f"{image.stem}.txt"
        lines = label.read_text(encoding="utf-8").splitlines() if label.is_file() else []
        times = repeats.get(image.name, 0) if repeats is not None else 1
        total += times * sum(1 for line in lines if line.strip())
    return total


def mirror_dataset(info: DatasetInfo, folder: Path) -> Path:
    """Mirror the dataset into ``folder``: image symlinks, label copies, a new data.yaml.

    Ultralytics resolves folder links and writes label caches next to the labels; with real
    folders of file links the caches stay in the work folder, so inputs are never modified.
    Returns the data.yaml path.
    """
    for split, images in info.splits.items():
        out_images, out_labels = folder / split / "images", folder / split / "labels"
        for out in (out_images, out_labels):
            if out.is_symlink():
                out.unlink()
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
        for image in list_images(images):
            (out_images / image.name).symlink_to(image.resolve())
        for label in sorted((images.parent / "labels").glob("*.txt")):
            shutil.copyfile(label, out_labels / label.name)
    train = "train/images"
    if info.train_repeats is not None:
        # ultralytics reads an image list line by line and keeps repeated lines
        images = (folder / "train" / "images").resolve()
        lines = [
            str(images / name)
            for name, times in sorted(info.train_repeats.items())
            for _ in range(times)
        ]
        write_text(folder / "train.txt", "\n".join(lines) + "\n")
        train = "train.txt"
    text = yaml.safe_dump(
        {
            "path": str(folder.resolve()),
            "train": train,
            "val": "val/images",
            "nc": len(info.names),
            "names": info.names,
        },
        sort_keys=False,
    )
    data_yaml = folder / "data.yaml"
    write_text(data_yaml, text)
    return data_yaml
