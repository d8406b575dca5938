"""The restorer base: trained on a world disjoint from the demo's, shipped small, with a card
that says what made it; the demo starts from it."""

from __future__ import annotations

import pytest

from mosaicflow.config import ConfigError, validate_config
from mosaicflow.provenance import file_hash
from mosaicflow.restore.base import BASE_DIR, CONFIGS, MAX_BYTES, merged_config, world_videos


def test_the_pretraining_world_is_disjoint_from_the_demo_world():
    demo, pretrain = merged_config(CONFIGS[:1]), merged_config(CONFIGS)
    assert demo["seed"] != pretrain["seed"]
    demo_videos, base_videos = world_videos(demo), world_videos(pretrain)
    assert not {v["seed"] for v in demo_videos} & {v["seed"] for v in base_videos}
    # the base never starts from itself
    assert pretrain["restoration"]["init_weights"] is None


def test_the_shipped_base_matches_its_card():
    from mosaicflow.io import read_json

    weights, card = BASE_DIR / "generator.pth", read_json(BASE_DIR / "card.json")
    assert weights.stat().st_size <= MAX_BYTES
    assert card["generator"]["sha256"] == file_hash(weights, 64)
    assert card["generator"]["bytes"] == weights.stat().st_size
    assert card["command"] == "make restorer-base"
    pretrain = merged_config(CONFIGS)
    assert card["world"] == {"seed": pretrain["seed"], "videos": world_videos(pretrain)}
    restorer = card["restorer"]
    assert restorer["stage1"]["validation"], "the card carries the validation curve"
    stage1 = pretrain["restoration"]["stage1"]
    assert restorer["stage1"]["iterations"] == stage1["iterations"]
    assert restorer["stage1"]["config"]["stage"]["batch_size"] == stage1["batch_size"]
    demo = merged_config(CONFIGS[:1])["restoration"]
    assert (restorer["mid_channels"], restorer["num_blocks"], restorer["hr_skip"]) == (
        demo["mid_channels"], demo["num_blocks"], demo["hr_skip"],
    )  # fmt: skip


def test_named_starts_resolve_to_the_shipped_base_or_to_nothing():
    config = {"profile": "demo", "restoration": {"init_weights": "base"}}
    validate_config(config)
    assert config["restoration"]["init_weights"] == str(BASE_DIR / "generator.pth")
    config = {"profile": "demo", "restoration": {"init_weights": "random"}}
    validate_config(config)
    assert config["restoration"]["init_weights"] is None
    with pytest.raises(ConfigError, match=r"restoration\.init_weights"):
        validate_config({"profile": "demo", "restoration": {"init_weights": "nowhere.pth"}})
