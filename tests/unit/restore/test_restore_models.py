"""mmengine registration and the config dataclass of the restoration section."""

from __future__ import annotations

from mmengine.registry import MODELS

from mosaicflow.config import contract_mismatches, load_schema, schema_section
from mosaicflow.restore import models
from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.config import RestorationConfig


def test_registered_with_mmengine():
    for cls in models.REGISTERED:
        assert MODELS.get(cls.__name__) is cls
    net = MODELS.build({"type": "BasicVSRPlusPlusNet", "mid_channels": 8, "num_blocks": 1})
    assert isinstance(net, BasicVSRPlusPlusNet) and net.num_blocks == 1


def test_config_matches_schema_section():
    section = schema_section(load_schema(), "restoration")
    assert contract_mismatches(RestorationConfig, section) == []
