"""The detector's balanced training list: repeated lines in the mirror, kept by ultralytics."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mosaicflow.yolo.dataset import mirror_dataset, read_dataset, read_repeats, with_repeats


def make_dataset(root: Path) -> Path:
    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for i in range(3):
            image = np.full((32, 32, 3), 40 * i, np.uint8)
            cv2.imwrite(str(root / split / "images" / f"{split}{i}.png"), image)
            (root / split / "labels" / f"{split}{i}.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    (root / "data.yaml").write_text("path: .\ntrain: train/images\nval: val/images\nnames: [m]\n")
    return root


def weights(path: Path, multipliers: dict[str, int]) -> Path:
    images = [f"train/images/{name}" for name in multipliers]
    pd.DataFrame({"image": images, "multiplier": list(multipliers.values())}).to_parquet(path)
    return path


def test_repeats_list_each_image_multiplier_times_and_change_the_data_hash(tmp_path):
    root = make_dataset(tmp_path / "d")
    plain = read_dataset(root)
    table = weights(tmp_path / "w.parquet", {"train0.png": 1, "train1.png": 3, "train2.png": 0})
    info = with_repeats(plain, read_repeats(table), table)
    assert info.data_hash != plain.data_hash
    assert info.counts["train_listed"] == 4
    data_yaml = mirror_dataset(info, tmp_path / "work" / "data")
    lines = (data_yaml.parent / "train.txt").read_text().splitlines()
    assert [Path(line).name for line in lines] == ["train0.png"] + ["train1.png"] * 3
    assert all(Path(line).is_file() for line in lines)


def test_ultralytics_keeps_the_repeated_lines(tmp_path, ultralytics_offline):
    from ultralytics.data.dataset import YOLODataset

    root = make_dataset(tmp_path / "d")
    table = weights(tmp_path / "w.parquet", {"train0.png": 2, "train1.png": 5, "train2.png": 1})
    info = with_repeats(read_dataset(root), read_repeats(table), table)
    data_yaml = mirror_dataset(info, tmp_path / "work" / "data")
    dataset = YOLODataset(
        img_path=str(data_yaml.parent / "train.txt"),
        imgsz=32,
        augment=False,
        data={"names": {0: "m"}, "channels": 3},
        task="detect",
    )
    assert len(dataset) == 8
    names = sorted(Path(f).name for f in dataset.im_files)
    assert names == ["train0.png"] * 2 + ["train1.png"] * 5 + ["train2.png"]


def test_weights_of_another_dataset_fail_naming_the_file(tmp_path):
    root = make_dataset(tmp_path / "d")
    table = weights(tmp_path / "other.parquet", {"train0.png": 1, "x.png": 2})
    with pytest.raises(ValueError, match=r"other.parquet: no multiplier for 2 training images"):
        with_repeats(read_dataset(root), read_repeats(table), table)
    zero = weights(tmp_path / "zero.parquet", {f"train{i}.png": 0 for i in range(3)})
    with pytest.raises(ValueError, match="multiplier 0"):
        with_repeats(read_dataset(root), read_repeats(zero), zero)
