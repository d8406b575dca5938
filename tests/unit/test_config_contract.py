"""Each stage's frozen config dataclass matches its schema section key for key."""

from __future__ import annotations

import importlib

import pytest

from mosaicflow.config import (
    build,
    contract_mismatches,
    load_schema,
    schema_section,
    validate_config,
)

#: schema section -> "module:Dataclass" of the stage config built from it.
STAGE_CONFIGS = {
    "world": "mosaicflow.world.config:WorldConfig",
    "frames": "mosaicflow.video.config:FramesConfig",
    "mosaic": "mosaicflow.mosaic.config:MosaicConfig",
    "restoration": "mosaicflow.restore.config:RestorationConfig",
    "restoration_dataset": "mosaicflow.datasets.clips.config:RestorationDatasetConfig",
    "detection_dataset": "mosaicflow.datasets.detection.config:DetectionDatasetConfig",
    "detector": "mosaicflow.yolo.config:DetectorConfig",
    "review": "mosaicflow.curate.config:ReviewConfig",
    "duplicates": "mosaicflow.curate.config:DuplicatesConfig",
    "quality": "mosaicflow.quality.config:QualityConfig",
    "tags": "mosaicflow.datasets.tags:TagsConfig",
    "censor": "mosaicflow.datasets.censor:CensorConfig",
    "watermark_set": "mosaicflow.datasets.watermarks:WatermarkSetConfig",
}


def load(target: str) -> type:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("section", sorted(STAGE_CONFIGS))
def test_dataclass_matches_schema(section):
    schema = load_schema()
    assert contract_mismatches(load(STAGE_CONFIGS[section]), schema_section(schema, section)) == []


@pytest.mark.parametrize("profile", ["demo", "full"])
@pytest.mark.parametrize("section", sorted(STAGE_CONFIGS))
def test_defaults_build_the_dataclass(section, profile):
    config = {"profile": profile}
    validate_config(config)
    built = build(load(STAGE_CONFIGS[section]), config[section])
    with pytest.raises(AttributeError, match=r"cannot assign to field 'x_new_field'"):
        built.__setattr__("x_new_field", 1)  # frozen
