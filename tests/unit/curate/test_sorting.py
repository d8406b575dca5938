"""``mosaicflow sort``: every key on images made to order, best-N, the files it writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mosaicflow.cli import main
from mosaicflow.curate.sort_jobs import edge_share, folder_items, write_sorted
from mosaicflow.curate.sorting import Item, best, hist_chain, sort_by

from .conftest import Dataset


def texture(seed: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def solid(rgb, size: int = 32) -> np.ndarray:
    return np.full((size, size, 3), rgb, np.uint8)


def names(ordered) -> list[str]:
    return [item.name for item, _ in ordered]


def test_blur_puts_the_sharpest_first():
    sharp = texture(0)
    items = [
        Item("soft", cv2.GaussianBlur(sharp, (9, 9), 3)),
        Item("sharp", sharp),
        Item("softer", cv2.GaussianBlur(sharp, (15, 15), 6)),
    ]
    assert names(sort_by(items, "blur")) == ["sharp", "soft", "softer"]


def test_motion_blur_finds_the_streaked_crop():
    base = cv2.resize(texture(1, 16), (96, 96), interpolation=cv2.INTER_CUBIC)
    streak = cv2.filter2D(base, -1, np.full((1, 15), 1 / 15))
    ordered = sort_by([Item("streaked", streak), Item("still", base)], "motion-blur")
    assert names(ordered) == ["still", "streaked"]
    assert ordered[1][1] > ordered[0][1] + 0.3


def test_brightness_hue_and_black():
    dark, light = Item("dark", solid((40, 40, 40))), Item("light", solid((200, 200, 200)))
    assert names(sort_by([dark, light], "brightness")) == ["light", "dark"]
    colours = [Item("blue", solid((0, 0, 255))), Item("red", solid((255, 0, 0))),
               Item("green", solid((0, 255, 0)))]  # fmt: skip
    ordered = sort_by(colours, "hue")
    assert names(ordered) == ["red", "green", "blue"]
    assert [round(v) for _, v in ordered] == [0, 120, 240]
    half = solid((120, 120, 120))
    half[:16] = 0
    tenth = solid((120, 120, 120))
    tenth[:3] = 0
    ordered = sort_by([Item("half", half), Item("tenth", tenth)], "black")
    assert names(ordered) == ["tenth", "half"] and ordered[1][1] == pytest.approx(0.5)


def test_measures_look_inside_the_mask():
    image = solid((200, 200, 200))
    image[:, :16] = (10, 10, 10)
    mask = np.zeros((32, 32), np.uint8)
    mask[:, :16] = 255
    inside = Item("masked", image, mask)
    assert sort_by([inside], "brightness")[0][1] == pytest.approx(10.0)
    assert sort_by([inside], "black")[0][1] == pytest.approx(1.0)


def test_size_and_edge():
    small, large = np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint8)
    small[:10, :10] = 255
    large[:20, :20] = 255
    image = texture(2, 32)
    items = [Item("small", image, small, edge=0.0), Item("large", image, large, edge=0.5)]
    assert names(sort_by(items, "size")) == ["large", "small"]
    assert names(sort_by(items, "edge")) == ["small", "large"]
    assert sort_by([Item("crop", texture(3, 20))], "size")[0][1] == 400.0
    meta = {
        "source_shape": [100, 200],
        "per_frame": [
            {"detected": True, "region_box": [0, 10, 50, 60]},
            {"detected": True, "region_box": [10, 10, 50, 60]},
            {"detected": False, "region_box": [0, 0, 1, 1]},
            {"detected": True, "region_box": [150, 50, 199, 99]},
        ],
    }
    assert edge_share(meta) == pytest.approx(2 / 3)


def test_source_quality_puts_the_poorest_source_first():
    items = [Item(name, texture(k), quality=q) for k, (name, q) in enumerate(
        [("good", 0.9), ("poor", 0.05), ("fair", 0.5)])]  # fmt: skip
    ordered = sort_by(items, "source-quality")
    assert names(ordered) == ["poor", "fair", "good"]
    assert [v for _, v in ordered] == [0.05, 0.5, 0.9]
    with pytest.raises(ValueError, match="unscored: no source_quality to sort by"):
        sort_by([*items, Item("unscored", texture(9))], "source-quality")


def test_hist_chains_similar_items():
    items = [Item("a-red", solid((250, 10, 10))), Item("b-blue", solid((10, 10, 250))),
             Item("c-reddish", solid((235, 30, 20)))]  # fmt: skip
    assert names(hist_chain(items)) == ["a-red", "c-reddish", "b-blue"]
    assert names(sort_by(items, "hist")) == names(hist_chain(items))
    assert hist_chain([]) == []


def test_best_takes_the_sharp_pool_then_the_most_dissimilar():
    red = np.clip(texture(4).astype(int) // 2 + np.array([120, 0, 0]), 0, 255).astype(np.uint8)
    blue = np.clip(texture(5).astype(int) // 2 + np.array([0, 0, 120]), 0, 255).astype(np.uint8)
    items = [
        Item("red-1", red),
        Item("red-2", np.ascontiguousarray(red[::-1])),
        Item("red-3", np.ascontiguousarray(red[:, ::-1])),
        Item("blue", blue),
        Item("blue-soft", cv2.GaussianBlur(blue, (21, 21), 8)),
    ]
    chosen = best(items, 2, pool=2)
    assert len(chosen) == 2 and chosen[1][0].name == "blue"
    assert names(best(items, 2, pool=2)) == names(chosen)
    assert "blue-soft" not in names(best(items, 4, pool=1))
    assert len(best(items, 10)) == len(items)
    with pytest.raises(ValueError, match="n >= 1"):
        best(items, 0)


def test_unknown_key_is_refused():
    with pytest.raises(ValueError, match="unknown sort key"):
        sort_by([Item("x", solid((1, 2, 3)))], "sharpness")


def test_folder_items_and_the_written_outputs(tmp_path: Path):
    crops, masks = tmp_path / "crops", tmp_path / "masks"
    crops.mkdir()
    masks.mkdir()
    for k, value in enumerate((30, 220, 120)):
        cv2.imwrite(str(crops / f"c{k}.png"), solid((value, value, value)))
        cv2.imwrite(str(masks / f"c{k}.png"), np.full((32, 32), 255, np.uint8))
    items = folder_items(crops, masks)
    table = write_sorted(items, "brightness", tmp_path / "out")
    assert table["name"].tolist() == ["c1.png", "c2.png", "c0.png"]
    assert pd.read_csv(tmp_path / "out" / "sorted.tsv", sep="\t")["rank"].tolist() == [1, 2, 3]
    assert cv2.imread(str(tmp_path / "out" / "sheet.png")) is not None
    (masks / "c2.png").unlink()
    with pytest.raises(ValueError, match="no mask c2"):
        folder_items(crops, masks)
    with pytest.raises(ValueError, match="needs --best"):
        write_sorted(items, "best", tmp_path / "out")


@pytest.mark.parametrize("cut", ["image", "mask"])
def test_a_cut_image_or_mask_is_named_not_sorted_half_grey(tmp_path: Path, cut: str):
    crops, masks = tmp_path / "crops", tmp_path / "masks"
    crops.mkdir()
    masks.mkdir()
    cv2.imwrite(str(crops / "c0.jpg"), texture(0, 256))
    cv2.imwrite(str(masks / "c0.jpg"), np.full((256, 256), 255, np.uint8))
    folder_items(crops, masks)
    damaged = (crops if cut == "image" else masks) / "c0.jpg"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    assert cv2.imread(str(damaged)) is not None  # OpenCV alone decodes the first half
    with pytest.raises(ValueError, match=r"c0\.jpg: not a whole readable image"):
        folder_items(crops, masks)


def test_an_image_over_pillow_s_size_limit_is_sorted(tmp_path: Path, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # as a 200-megapixel frame would be
    cv2.imwrite(str(tmp_path / "big.png"), texture(1))
    assert [item.name for item in folder_items(tmp_path)] == ["big.png"]
    assert Image.MAX_IMAGE_PIXELS == 100


def test_the_command_sorts_clips(dataset: Dataset, tmp_path: Path, capsys):
    out = tmp_path / "sorted"
    assert main(["sort", "--clips", str(dataset.root), "--by", "edge", "--out", str(out)]) == 0
    table = pd.read_parquet(out / "sorted.parquet")
    assert sorted(table["name"]) == sorted(dataset.index.loc[dataset.index["kept"], "clip"])
    assert "sorted by edge" in capsys.readouterr().out
    assert main(["sort", "--images", str(tmp_path / "none"), "--by", "blur", "--out",
                 str(out)]) == 2  # fmt: skip
    capsys.readouterr()
    assert main(["sort", "--clips", str(dataset.root.parent), "--by", "blur", "--out",
                 str(tmp_path / "o2")]) == 2  # fmt: skip
    assert "not a restoration dataset (no index.parquet" in capsys.readouterr().err
    assert main(["sort", "--clips", str(dataset.root), "--by", "blur", "--best", "2", "--out",
                 str(tmp_path / "o3")]) == 2  # fmt: skip
    assert "--best and --pool go with --by best" in capsys.readouterr().err


def test_the_command_sorts_clips_by_source_quality(dataset: Dataset, tmp_path: Path):
    scored = tmp_path / "scored"
    shutil.copytree(dataset.root, scored)
    index = pd.read_parquet(scored / "index.parquet")
    kept = index.loc[index["kept"].astype(bool), "clip"].sort_values().tolist()
    assert len(kept) >= 2
    quality = {clip: (k + 1) / (len(kept) + 1) for k, clip in enumerate(reversed(kept))}
    index["source_quality"] = index["clip"].map(quality)
    index.to_parquet(scored / "index.parquet")
    out = tmp_path / "sorted"
    assert main(["sort", "--clips", str(scored), "--by", "source-quality", "--out", str(out)]) == 0
    table = pd.read_parquet(out / "sorted.parquet")
    assert table["name"].tolist() == list(reversed(kept))  # poorest first
    assert table["value"].tolist() == sorted(quality.values())
    # clips of a run without the classifier: a clear refusal, nothing written
    unscored = tmp_path / "unscored"
    assert main(["sort", "--clips", str(dataset.root), "--by", "source-quality", "--out",
                 str(unscored)]) == 2  # fmt: skip
    assert not unscored.exists()
