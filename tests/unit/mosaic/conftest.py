"""Shared helpers of the mosaic tests: configs from the schema defaults with overrides."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import cv2
import pytest

from mosaicflow.config import build, validate_config
from mosaicflow.mosaic.config import MosaicConfig

cv2.setNumThreads(1)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping):
            base[key] = _merge(base.get(key, {}), value)
        else:
            base[key] = value
    return base


def mosaic_section(**overrides: Any) -> dict[str, Any]:
    """The validated `mosaic:` section (schema defaults) with nested overrides applied."""
    config: dict[str, Any] = {"mosaic": _merge({}, overrides)}
    validate_config(config)
    return copy.deepcopy(config["mosaic"])


def make_cfg(**overrides: Any) -> MosaicConfig:
    """A ``MosaicConfig`` from the schema defaults with nested overrides."""
    return build(MosaicConfig, mosaic_section(**overrides))


@pytest.fixture
def cfg() -> MosaicConfig:
    return make_cfg()
