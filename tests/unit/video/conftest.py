"""Fixtures of the video tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .clips import scripted_frames, write_video


@pytest.fixture()
def make_clip(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_clip(name, seed=0, size=(h, w), n=48, **write_video kwargs)``."""

    def make(
        name: str, seed: int = 0, size: tuple[int, int] = (96, 160), n: int = 48, **kw
    ) -> Path:
        frames = scripted_frames(seed, size[0], size[1], n)
        return write_video(tmp_path / name, frames, **kw)

    return make
