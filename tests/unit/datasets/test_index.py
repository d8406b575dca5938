"""Split by source video and the aggregate index."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.index import INDEX_COLUMNS, assign_splits, build_index, read_index
from mosaicflow.datasets.clips.meta import ClipMetaError

from .conftest import Source, make_cfg, make_source, mosaic_cfg

CFG = dict(
    min_seconds=0.5, max_seconds=1.2, stride_seconds=0.8, out_size=32, max_clips_per_video=None
)


@settings(max_examples=20, deadline=None)
@given(
    counts=st.lists(st.integers(0, 9), min_size=1, max_size=12),
    seed=st.integers(0, 9),
    val=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_every_video_gets_one_split(counts, seed, val):
    videos = {f"v{i}-0000000{i % 10}": c for i, c in enumerate(counts)}
    cfg = make_cfg(split={"val": val, "test": 0.0})
    splits = assign_splits(videos, cfg.split, seed=seed)
    assert set(splits) == set(videos) and set(splits.values()) <= {"train", "val"}
    assert splits == assign_splits(videos, cfg.split, seed=seed)
    if val == 0.0:
        assert set(splits.values()) == {"train"}
    elif len(videos) >= 3:
        assert "val" in splits.values() and "train" in splits.values()


def test_roles_win_and_are_checked():
    cfg = make_cfg(split={"val": 0.5})
    splits = assign_splits({"a": 3, "b": 3, "c": 3}, cfg.split, seed=0, roles={"a": "test"})
    assert splits["a"] == "test"
    with pytest.raises(ValueError, match="roles"):
        assign_splits({"a": 1}, cfg.split, seed=0, roles={"a": "label"})


@pytest.fixture(scope="module")
def manifests(tmp_path_factory, source: Source) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("dataset")
    other = make_source(tmp_path_factory.mktemp("other"), n=14, seed=5, tracks=2, cut_at=12)
    cfg = make_cfg(**CFG)
    paths = []
    for vid, src in (("first-00000001", source), ("second-00000002", other)):
        build_video_clips(
            src.video,
            src.index,
            src.regions,
            root,
            cfg,
            mosaic_cfg=mosaic_cfg(),
            video_id=vid,
            seed=0,
            code="c",
        )
        paths.append(root / "videos" / f"{vid}.json")
    return root, paths


def test_index_lists_every_clip_with_its_split(manifests, tmp_path: Path):
    root, paths = manifests
    cfg = make_cfg(**CFG, split={"val": 0.5})
    index = build_index(paths, tmp_path / "index.parquet", cfg.split, seed=0)
    assert list(index.columns) == list(INDEX_COLUMNS)
    assert index.groupby("video")["split"].nunique().max() == 1
    assert set(index["split"]) == {"train", "val"}
    skipped = index[~index["kept"]]
    assert set(skipped["reason"]) == {"too_short"} and (skipped["clip_path"] == "").all()
    kept = index[index["kept"]]
    assert all((root / p).is_file() for p in kept["clip_path"])
    assert (kept["block_size"] > 0).all() and (kept["sharpness"] > 0).all()
    assert set(kept["track"][kept["video"] == "second-00000002"]) == {1, 2}
    again = build_index(paths[::-1], tmp_path / "again.parquet", cfg.split, seed=0)
    data = [
        hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()
        for n in ("index.parquet", "again.parquet")
    ]
    assert data[0] == data[1]
    assert read_index(tmp_path / "index.parquet")["clip"].tolist() == again["clip"].tolist()


def test_bad_manifest_is_named(manifests, tmp_path: Path):
    bad = tmp_path / "videos" / "x.json"
    bad.parent.mkdir()
    bad.write_text('{"version": 1, "video": "x", "clips": [{"version": 1}]}')
    with pytest.raises(ClipMetaError, match=r"x\.json \(clip entry 0\)"):
        build_index([bad], tmp_path / "index.parquet", make_cfg().split, seed=0)
    assert not (tmp_path / "index.parquet").exists()
