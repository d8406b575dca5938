"""Fixtures of the formats tests: tiny labelme folders and an offline ultralytics."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import pytest

from .helpers import make_labelme

cv2.setNumThreads(1)


@pytest.fixture
def labelme_factory() -> Callable[..., Path]:
    return make_labelme


@pytest.fixture(scope="session")
def ultralytics_offline(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Import ultralytics offline: own config dir with local fonts, no downloads."""
    import matplotlib

    cfg = tmp_path_factory.mktemp("yolo_config")
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        shutil.copyfile(font, cfg / name)
    os.environ["YOLO_CONFIG_DIR"] = str(cfg)
    os.environ["YOLO_OFFLINE"] = "true"
    import ultralytics

    return ultralytics
