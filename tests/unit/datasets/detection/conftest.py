"""Fixtures of the detection dataset tests: configs from the schema, synthetic sources."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from mosaicflow.config import build
from mosaicflow.datasets.detection.config import DetectionDatasetConfig
from tests.unit.datasets.conftest import full_config, make_source

torch.set_num_threads(1)


def detection_cfg(**overrides: Any) -> DetectionDatasetConfig:
    """``detection_dataset`` from the schema defaults (demo profile) with overrides."""
    return build(
        DetectionDatasetConfig, full_config(detection_dataset=overrides)["detection_dataset"]
    )


@pytest.fixture(scope="session")
def det_source(tmp_path_factory):
    """A 24-frame source with two scenes; track 1 is missing (no regions) on 6 frames."""
    return make_source(
        tmp_path_factory.mktemp("det_source"), cut_at=12, missing=(2, 5, 8, 14, 17, 20)
    )
