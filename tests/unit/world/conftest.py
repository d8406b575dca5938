"""Shared fixtures: a small world rendered once per test session."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mosaicflow.world import VideoSpec, WorldConfig, WorldRoles, render_video, video_specs


def small_config(**changes: object) -> WorldConfig:
    """A world config smaller than the schema's minimums, so unit tests stay fast."""
    cfg = WorldConfig(
        minimums=False,
        roles=WorldRoles(train=2, val=1, test=1, label=0),
        width=160,
        height=96,
        fps=12,
        seconds=4,
        label="nsfw",
        empty_label="sfw",
        labelme_every=3,
        watermark_every=2,
        watermark_overlay_p=0.5,
        crf=18,
        scenes=3,
        max_targets=3,
        target_coverage=(0.02, 0.18),
        empty_fraction=0.25,
        static_fraction=0.08,
        watermark_fraction=0.5,
        audio_videos=("world-test-00",),
        videos={},
    )
    return dataclasses.replace(cfg, **changes)


def render(spec: VideoSpec, folder: Path) -> tuple[Path, Path, Path]:
    """Render ``spec`` into ``folder``; return (mp4, truth mkv, truth json)."""
    paths = (folder / f"{spec.name}.mp4", folder / f"{spec.name}.mkv", folder / f"{spec.name}.json")
    render_video(spec, *paths)
    return paths


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, Path]]:
    """The small world rendered once: name -> (mp4, truth mkv, truth json)."""
    folder = tmp_path_factory.mktemp("world")
    return {spec.name: render(spec, folder) for spec in video_specs(small_config(), seed=7)}
