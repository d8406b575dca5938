"""The `mosaic:` schema section and its dataclass."""

from __future__ import annotations

import pytest

from mosaicflow.config import ConfigError, contract_mismatches, load_schema, schema_section
from mosaicflow.mosaic.config import MosaicConfig

from .conftest import make_cfg


def test_schema_and_dataclass_agree():
    assert contract_mismatches(MosaicConfig, schema_section(load_schema(), "mosaic")) == []


def test_every_key_has_type_description_default():
    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            for key in ("type", "description", "default"):
                assert key in sub, f"{path}{name} lacks {key}"
            if sub.get("type") == "object" and "properties" in sub:
                assert sub.get("additionalProperties") is False, f"{path}{name}"
                walk(sub, f"{path}{name}.")

    walk(schema_section(load_schema(), "mosaic"), "mosaic.")


def test_defaults_follow_the_design(cfg):
    # the mosaic synthesis parameter families: size scale, shape weights, rect ratio, feathering,
    # codec CRF ranges
    assert cfg.size_scale == (0.7, 2.2)
    assert cfg.shapes.probabilities() == pytest.approx((0.25, 0.30, 0.45))
    assert cfg.rect_ratio == (1.1, 1.8)
    assert (cfg.feather.p, cfg.feather.width) == (0.7, (0.0, 2.5))
    assert cfg.degradations.x264.crf == (16, 28)
    assert cfg.degradations.x265.crf == (20, 36)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"size_scale": [2.0, 1.0]}, "size_scale"),
        ({"rect_ratio": [0.5, 1.2]}, "rect_ratio"),
        ({"shapes": {"squa_mid": 0, "squa_avg": 0, "rect_avg": 0}}, "shapes"),
        ({"degradations": {"x264": {"p": 0.6}, "x265": {"p": 0.6}}}, "sum to"),
        ({"degradations": {"jpeg": {"quality": [90, 40]}}}, "jpeg.quality"),
    ],
)
def test_bad_values_fail_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_cfg(**overrides)


def test_unknown_key_fails_in_schema_validation():
    with pytest.raises(ConfigError, match="mosaic"):
        make_cfg(not_a_key=1)
