"""A small built clip dataset (two synthetic videos) for the curation tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.config import SplitConfig
from mosaicflow.datasets.clips.index import build_index
from tests.unit.datasets.conftest import CLIP_CFG, Source, make_cfg, make_source, mosaic_cfg

VIDEO_IDS = ("vid-0123abcd", "vid-4567cdef")


@dataclass
class Dataset:
    """A clip dataset folder with its index and sources."""

    root: Path
    index: pd.DataFrame
    sources: dict[str, Source]

    def manifest(self, video: str) -> Path:
        return self.root / "videos" / f"{video}.json"


def build_dataset(folder: Path) -> Dataset:
    """Two videos (two tracks each) cut into clips, indexed (first video train, second val)."""
    root = folder / "restoration_dataset"
    sources = {}
    for seed, video in enumerate(VIDEO_IDS):
        src = make_source(folder / f"src-{video}", tracks=2, seed=seed)
        build_video_clips(
            src.video, src.index, src.regions, root, make_cfg(**CLIP_CFG), mosaic_cfg=mosaic_cfg(),
            video_id=video, seed=3, code="abc",
        )  # fmt: skip
        sources[video] = src
    index = build_index(
        sorted((root / "videos").glob("*.json")),
        root / "index.parquet",
        SplitConfig(val=0.0, test=0.0),
        seed=1,
        roles={VIDEO_IDS[0]: "train", VIDEO_IDS[1]: "val"},
    )
    return Dataset(root, index, sources)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The shared dataset (read-only: tests that write copy it)."""
    return build_dataset(tmp_path_factory.mktemp("curate"))
