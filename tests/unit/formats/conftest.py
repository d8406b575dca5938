"""Fixtures of the formats tests: tiny labelme folders and an offline ultralytics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from .helpers import make_labelme

cv2.setNumThreads(1)


@pytest.fixture
def labelme_factory() -> Callable[..., Path]:
    return make_labelme
