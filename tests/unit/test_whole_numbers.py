"""A whole-number key given as a decimal is refused naming the key, not crashed on in a job."""

import pytest

from mosaicflow.config import ConfigError
from mosaicflow.plan.whole_numbers import check_whole_numbers

SCHEMA = {
    "type": "object",
    "properties": {
        "seed": {"type": "integer"},
        "rate": {"type": "number"},
        "either": {"type": ["integer", "null"]},
        "section": {
            "type": "object",
            "properties": {"epochs": {"type": "integer"}, "sizes": {"items": {"type": "integer"}}},
            "additionalProperties": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
    },
}


def test_decimals_in_whole_number_keys_are_named_and_numbers_pass():
    check_whole_numbers({"seed": 7, "rate": 0.5, "either": None, "section": {"epochs": 3}}, SCHEMA)
    config = {
        "seed": 7.0,
        "rate": 2.0,  # a number key takes decimals
        "either": 1.5,
        "section": {"epochs": 3.0, "sizes": [64, 96.0], "video-1": {"n": 2.0}},
    }
    with pytest.raises(ConfigError) as err:
        check_whole_numbers(config, SCHEMA)
    lines = str(err.value).splitlines()[1:]
    assert [line.strip().split(":")[0] for line in lines] == [
        "config key 'seed'",
        "config key 'either'",
        "config key 'section.epochs'",
        "config key 'section.sizes[1]'",
        "config key 'section.video-1.n'",
    ]
    assert "7.0 is not a whole number" in lines[0]


def test_the_shipped_configs_hold_whole_numbers():
    from pathlib import Path

    from mosaicflow.config import validate_config
    from mosaicflow.plan.cli import read_configs

    root = Path(__file__).resolve().parents[2] / "config"
    for extra in ([], ["test-tiny.yaml"], ["pretrain.yaml"]):
        config = read_configs([str(root / "config.yaml"), *(str(root / f) for f in extra)])
        validate_config(config)
        check_whole_numbers(config)
