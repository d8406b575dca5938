"""The watermark set made from footage: texts, logos, placement, labels, splits, the job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from mosaicflow.config import ConfigError, build, validate_config
from mosaicflow.datasets.watermarks import (
    CLASSES,
    SourceVideo,
    WatermarkSetConfig,
    add_marks,
    build_watermark_set,
    font_files,
    label_lines,
    logo_layer,
    random_text,
    split_videos,
    text_layer,
)
from mosaicflow.formats.yolo import read_yolo_labels
from tests.helpers import write_video


def set_cfg(**over) -> WatermarkSetConfig:
    config = {"watermark_set": over}
    validate_config(config)
    return build(WatermarkSetConfig, config["watermark_set"])


@pytest.fixture(scope="module")
def fonts() -> dict[str, list[Path]]:
    return font_files()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[::2, ::2])  # 256 x 256


def test_fonts_cover_the_scripts_and_refuse_a_missing_file(fonts, tmp_path):
    assert {"latin", "cyrillic", "greek"} <= set(fonts)
    assert all(p.suffix == ".ttf" and p.is_file() for p in fonts["latin"])
    with pytest.raises(FileNotFoundError, match=r"watermark_set\.fonts"):
        font_files([str(tmp_path / "missing.ttf")])


@pytest.mark.parametrize("script", ["latin", "cyrillic", "greek", "cjk"])
def test_texts_use_their_script(script):
    rng = np.random.default_rng(0)
    texts = [random_text(rng, script) for _ in range(40)]
    assert len(set(texts)) > 30
    if script != "latin":
        letters = set("".join(texts).lower()) - set("0123456789@.")
        assert letters and all(not ch.isascii() for ch in letters)


def test_every_font_draws_every_script_it_is_listed_for(fonts):
    from mosaicflow.datasets.watermarks import _ALPHABETS

    for script, files in fonts.items():
        for font in files:
            layer = text_layer(_ALPHABETS[script][:8], font, 20, np.random.default_rng(0))
            assert (layer > 0.5).sum() > 40, (script, font.name)


def test_a_text_layer_is_as_tall_as_asked_and_readable(fonts):
    layer = text_layer("@studio42", fonts["latin"][0], 24, np.random.default_rng(1))
    assert layer.dtype == np.float32 and layer.min() >= 0 and layer.max() == pytest.approx(1.0)
    rows = np.flatnonzero((layer > 0.5).any(axis=1))
    assert 15 <= rows[-1] - rows[0] + 1 <= 40 and layer.shape[1] > 3 * layer.shape[0]


def test_logos_are_shapes_with_letters(fonts):
    rng = np.random.default_rng(2)
    for _ in range(12):
        base, letters = logo_layer(48, fonts["latin"], rng)
        assert base.shape == (48, 48) and 0.03 < (base > 0.5).mean() < 0.95
        assert letters is None or (letters > 0.5).any()


def test_marks_are_pasted_where_their_labels_say(fonts, photo):
    cfg = set_cfg(empty_p=0.0, marks=[2, 2], alpha=[1.0, 1.0], tile_p=0.0)
    out, marks = add_marks(photo, cfg, fonts, np.random.default_rng(3))
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert 1 <= len(marks) <= 2 and {m.label for m in marks} <= set(CLASSES)
    changed = (out != photo).any(axis=-1)
    for mark in marks:
        x0, y0, x1, y1 = mark.box
        assert 0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 256
        assert changed[y0:y1, x0:x1].mean() > 0.05
    inside = np.zeros_like(changed)
    for x0, y0, x1, y1 in (m.box for m in marks):
        inside[y0:y1, x0:x1] = True
    assert changed[~inside].mean() < 0.02  # only faint edges (antialiasing) outside the boxes
    again, marks_again = add_marks(photo, cfg, fonts, np.random.default_rng(3))
    assert np.array_equal(out, again) and marks == marks_again


def test_empty_images_and_tiled_text(fonts, photo):
    empty, none = add_marks(photo, set_cfg(empty_p=1.0), fonts, np.random.default_rng(4))
    assert none == [] and np.array_equal(empty, photo)
    cfg = set_cfg(empty_p=0.0, marks=[1, 1], text_p=1.0, tile_p=1.0, text_height=[0.05, 0.05])
    _, tiled = add_marks(photo, cfg, fonts, np.random.default_rng(5))
    assert len(tiled) >= 2 and {m.label for m in tiled} == {"text"}  # one text, repeated


def test_labels_are_yolo_boxes(tmp_path):
    from mosaicflow.datasets.watermarks import Mark

    text = label_lines([Mark("text", (10, 20, 50, 30)), Mark("logo", (0, 0, 64, 32))], 128, 64)
    path = tmp_path / "a.txt"
    path.write_text(text)
    labels = read_yolo_labels(path, num_classes=2)
    assert [label.class_id for label in labels] == [0, 1]
    np.testing.assert_allclose(labels[1].points.min(0), [0, 0], atol=1e-6)
    np.testing.assert_allclose(labels[1].points.max(0), [0.5, 0.5], atol=1e-6)


def test_videos_split_with_both_splits_present():
    ids = [f"v{i}" for i in range(7)]
    split = split_videos(ids, 0.2, seed=1)
    assert sorted(split.values()).count("val") == 1 and split == split_videos(ids, 0.2, seed=1)
    assert set(split_videos(ids[:2], 0.01, seed=1).values()) == {"train", "val"}
    assert set(split_videos(ids, 0.0, seed=1).values()) == {"train"}


def _source(folder: Path, name: str, role: str, seed: int) -> SourceVideo:
    import pandas as pd

    video = folder / f"{name}.mp4"
    write_video(video, frames=10, seed=seed)
    index = folder / f"{name}.parquet"
    pd.DataFrame({"frame": range(10), "kept": [i % 3 != 2 for i in range(10)]}).to_parquet(index)
    return SourceVideo(name, video, index, role)


def test_the_job_writes_a_yolo_set_by_role_and_the_same_bytes_twice(tmp_path):
    sources = [_source(tmp_path, f"vid{i}", role, i) for i, role in enumerate(["train", "val"])]
    cfg = set_cfg(images_per_video=4, imgsz=64, empty_p=0.25)
    stats = build_watermark_set(sources, tmp_path / "set", cfg, seed=3)
    assert stats["train"]["images"] == stats["val"]["images"] == 4
    assert stats["train"]["text"] + stats["train"]["logo"] > 0
    data = yaml.safe_load((tmp_path / "set" / "data.yaml").read_text())
    assert data["names"] == dict(enumerate(CLASSES)) and Path(data["path"]).is_absolute()
    images = sorted((tmp_path / "set" / "val" / "images").glob("*.jpg"))
    assert images and all(p.stem.startswith("vid1-") for p in images)  # the val video's frames only
    for image in images:
        assert (tmp_path / "set" / "val" / "labels" / f"{image.stem}.txt").is_file()
    record = json.loads((tmp_path / "set" / "watermark_set.json").read_text())
    assert record["classes"] == list(CLASSES)
    build_watermark_set(sources, tmp_path / "again", cfg, seed=3)
    for path in sorted((tmp_path / "set").rglob("*.*")):
        if path.suffix in (".jpg", ".txt"):
            twin = tmp_path / "again" / path.relative_to(tmp_path / "set")
            assert path.read_bytes() == twin.read_bytes()


def test_one_video_keeps_its_last_frames_for_validation(tmp_path):
    source = _source(tmp_path, "solo", "unlabelled", 9)
    stats = build_watermark_set([source], tmp_path / "set", set_cfg(images_per_video=5), seed=0)
    assert stats["train"]["images"] == 4 and stats["val"]["images"] == 1
    most = build_watermark_set(
        [source], tmp_path / "most", set_cfg(images_per_video=5, val_fraction=0.9), seed=0
    )
    assert most["train"]["images"] == 1 and most["val"]["images"] == 4
    with pytest.raises(ValueError, match=r"validation split.*watermark_set\.val_fraction"):
        build_watermark_set(
            [source], tmp_path / "none", set_cfg(images_per_video=5, val_fraction=0.0), seed=0
        )


def test_bad_config_and_no_video(tmp_path):
    with pytest.raises(ConfigError, match=r"watermark_set\.alpha"):
        WatermarkSetConfig(**{**set_cfg().__dict__, "alpha": (0.9, 0.2)})
    with pytest.raises(ValueError, match="no source video"):
        build_watermark_set([], tmp_path / "set", set_cfg(), seed=0)
