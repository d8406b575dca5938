"""Region tags: the nudenet classes inside a region, on clips and detection samples, on a real
photograph (scikit-image's astronaut: her face is found, her suit is not)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skimage.data

from mosaicflow.config import ConfigError, build, validate_config
from mosaicflow.datasets.balance.tree import Level, balance_table
from mosaicflow.datasets.clips.index import index_frame
from mosaicflow.datasets.detection.aggregate import sample_row
from mosaicflow.datasets.detection.build import build_video_samples
from mosaicflow.datasets.tags import (
    NO_TAG,
    RegionTagger,
    TagsConfig,
    merge,
    tag_fields,
)
from mosaicflow.formats.masks import write_mask
from tests.unit.curate.test_second_opinion import FACE, SUIT, _astronaut_video, astronaut_clips
from tests.unit.datasets.conftest import mosaic_cfg
from tests.unit.datasets.detection.conftest import detection_cfg


def tags_cfg(**over) -> TagsConfig:
    config = {"tags": over}
    validate_config(config)
    return build(TagsConfig, config["tags"])


@pytest.fixture(scope="module")
def tagger() -> RegionTagger:
    return RegionTagger(tags_cfg())


def test_the_face_tags_the_face_region_and_not_the_suit(tagger):
    photo = skimage.data.astronaut()
    found = tagger.found(photo)
    assert {f.label for f in found} <= set(tagger.cfg.classes)
    face = tagger.inside(found, FACE)
    assert set(face) == {"FACE_FEMALE"} and face["FACE_FEMALE"] >= 0.5
    assert tagger.inside(found, SUIT) == {}


def test_a_stricter_score_or_overlap_drops_the_tag():
    photo = skimage.data.astronaut()
    strict = RegionTagger(tags_cfg(min_score=0.99))
    assert strict.inside(strict.found(photo), FACE) == {}
    inside = RegionTagger(tags_cfg(min_overlap=1.0))
    half_face = (FACE[0], FACE[1], (FACE[0] + FACE[2]) / 2, FACE[3])
    assert inside.inside(inside.found(photo), half_face) == {}


def test_merge_and_fields():
    assert merge([{"A": 0.4}, {"A": 0.6, "B": 0.3}]) == {"A": 0.6, "B": 0.3}
    assert tag_fields({"FACE_MALE": 0.4, "BELLY_EXPOSED": 0.9}) == {
        "tags": "BELLY_EXPOSED+FACE_MALE",
        "tag": "BELLY_EXPOSED",
    }
    assert tag_fields({}) == {"tags": "", "tag": NO_TAG}
    assert tag_fields(None) == {"tags": "", "tag": ""}  # not tagged at all


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"tags\.classes.*FACE_FEMALE"):
        RegionTagger(tags_cfg(classes=["FACE"]))
    with pytest.raises(ConfigError, match=r"tags\.min_overlap"):
        TagsConfig(enabled=True, classes=("FACE_MALE",), min_score=0.3, min_overlap=1.5)


def test_clips_carry_their_tags_into_the_index(tagger, tmp_path: Path):
    _, _, records, _ = astronaut_clips(tmp_path, tagger=tagger)
    kept = [r for r in records if r["status"] == "kept"]
    assert sorted(r["track"] for r in kept) == [1, 2]
    by_track = {r["track"]: r["analysers"]["tags"] for r in kept}
    assert set(by_track[1]) == {"FACE_FEMALE"} and by_track[2] == {}
    meta = json.loads((tmp_path / "clips" / kept[0]["files"]["meta"]).read_text())
    assert meta["analysers"]["tags"] == by_track[kept[0]["track"]]
    index = index_frame(records, {"astronaut-0123abcd": "train"}).set_index("track")
    assert index.loc[1, "tags"] == index.loc[1, "tag"] == "FACE_FEMALE"
    assert index.loc[2, "tags"] == "" and index.loc[2, "tag"] == NO_TAG
    (tmp_path / "plain").mkdir()
    untagged = index_frame(astronaut_clips(tmp_path / "plain")[2], {"astronaut-0123abcd": "val"})
    assert (untagged["tag"] == "").all()


def test_samples_are_tagged_without_changing_their_pixels(tagger, tmp_path: Path):
    (tmp_path / "src").mkdir()
    video, index, regions = _astronaut_video(tmp_path / "src")
    cfg = detection_cfg(frames_per_video=4, imgsz=128, degrade=False, negatives=0.0)

    def samples(name: str, **options) -> list[dict]:
        build_video_samples(
            cfg, mosaic_cfg(), video, index, tmp_path / name, tmp_path / f"{name}.json",
            video_id="astro-00000000", seed=3, regions_parquet=regions, **options,
        )  # fmt: skip
        return json.loads((tmp_path / f"{name}.json").read_text())["samples"]

    tagged, plain = samples("tagged", tagger=tagger), samples("plain")
    assert [s["stem"] for s in tagged] == [s["stem"] for s in plain] and tagged
    for s in tagged:
        assert set(s["tags"]) == {"FACE_FEMALE"}  # the face region of every frame
        image = f"images/{s['stem']}.png"
        assert (tmp_path / "tagged" / image).read_bytes() == (
            tmp_path / "plain" / image
        ).read_bytes()
    mask = tmp_path / "m.png"
    write_mask(mask, np.zeros((8, 8), bool))
    row = sample_row({**tagged[0], "video": "astro-00000000"}, "train", mask)
    assert row["tag"] == "FACE_FEMALE" and row["tags"] == "FACE_FEMALE"
    assert sample_row({**plain[0], "video": "astro-00000000"}, "train", mask)["tag"] == ""


def test_tag_is_a_balance_level():
    table = pd.DataFrame({"tag": ["FACE_FEMALE", "none", "none", "none"], "video": list("aabb")})
    weights = balance_table(table, [Level("tag")]).set_index("bucket")
    assert set(weights.index) == {"FACE_FEMALE", "none"}
    # each tag gets half the draws: the one face clip weighs three times a clip without a tag
    assert weights.loc["FACE_FEMALE", "multiplier"] == 3
    assert weights.loc["none", "multiplier"].tolist() == [1, 1, 1]
