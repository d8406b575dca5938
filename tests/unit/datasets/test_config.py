"""The restoration_dataset config: schema section and dataclass agree, checks fire."""

from __future__ import annotations

import pytest

from mosaicflow.config import ConfigError, contract_mismatches, load_schema, schema_section
from mosaicflow.datasets.clips.config import RestorationDatasetConfig

from .conftest import full_config, make_cfg


def test_dataclass_matches_schema():
    section = schema_section(load_schema(), "restoration_dataset")
    assert contract_mismatches(RestorationDatasetConfig, section) == []


@pytest.mark.parametrize(("profile", "size", "cap"), [("demo", 128, 16), ("full", 256, 200)])
def test_profiles(profile, size, cap):
    from mosaicflow.config import build

    cfg = build(RestorationDatasetConfig, full_config(profile)["restoration_dataset"])
    assert (cfg.out_size, cfg.max_clips_per_video) == (size, cap)
    assert cfg.filters.max_watermark is None  # filters are off by default
    with pytest.raises(AttributeError, match=r"cannot assign to field 'crf'"):
        cfg.__setattr__("crf", 3)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"min_seconds": 4.0, "max_seconds": 2.0}, "min_seconds"),
        ({"split": {"val": 0.7, "test": 0.5}}, "split"),
        ({"mask_growth": {"radius": [0.3, 0.1]}}, "mask_growth.radius"),
    ],
)
def test_checks_name_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key):
        make_cfg(**overrides)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match="'nope' was unexpected"):
        full_config(restoration_dataset={"nope": 1})
