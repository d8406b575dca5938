"""The source-quality base: trained on the pretraining world (disjoint from the demo's), shipped
small with a card that says what made it; the demo profile fine-tunes it, a run names its start
by content."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mosaicflow.config import ConfigError, validate_config
from mosaicflow.provenance import file_hash
from mosaicflow.quality.base import BASE_DIR, MAX_BYTES, publish_base
from mosaicflow.shipped import CONFIGS, merged_config, world_videos


def test_the_base_trains_from_random_weights_and_the_demo_profile_starts_from_it():
    pretrain = merged_config(CONFIGS)
    assert pretrain["quality"]["init_weights"] is None  # the base never starts from itself
    assert merged_config(CONFIGS[:1])["quality"]["init_weights"] == str(BASE_DIR / "quality.pt")
    full = {"profile": "full", "quality": {"enabled": True}}
    validate_config(full)
    assert full["quality"]["init_weights"] is None
    assert full["quality"]["iterations"] > merged_config(CONFIGS[:1])["quality"]["iterations"]


def test_the_shipped_base_matches_its_card():
    from mosaicflow.io import read_json
    from mosaicflow.quality.score import QualityScorer

    weights, card = BASE_DIR / "quality.pt", read_json(BASE_DIR / "card.json")
    assert weights.stat().st_size <= MAX_BYTES
    assert card["classifier"]["sha256"] == file_hash(weights, 64)
    assert card["classifier"]["bytes"] == weights.stat().st_size
    assert card["command"] == "make quality-base"
    pretrain = merged_config(CONFIGS)
    assert card["world"] == {"seed": pretrain["seed"], "videos": world_videos(pretrain)}
    training = card["training"]
    assert training["config"]["iterations"] == pretrain["quality"]["iterations"]
    assert training["config"]["frames"] == pretrain["quality"]["frames"]
    # video ids are the world's names with a content hash: world-train-03-1a2b3c4d
    assert {vid.rsplit("-", 1)[0] for vid in training["train_videos"]} == {
        v["name"] for v in card["world"]["videos"] if v["role"] == "train"
    }
    assert training["val"]["auroc_five_crops"] >= 0.9
    QualityScorer(weights)  # loads as a classifier


def test_named_starts_resolve_to_the_shipped_base_or_to_nothing():
    config = {"profile": "demo", "quality": {"enabled": True, "init_weights": "random"}}
    validate_config(config)
    assert config["quality"]["init_weights"] is None
    with pytest.raises(ConfigError, match=r"quality\.init_weights"):
        validate_config({"profile": "demo", "quality": {"init_weights": "nowhere.pt"}})


def test_a_shipped_start_is_a_param_by_content_and_a_users_own_an_input(tmp_path):
    from mosaicflow.plan.run import Run
    from mosaicflow.plan.stages import quality

    def plan(**section):
        config = {"profile": "demo", "quality": {"enabled": True, **section}}
        validate_config(config)
        run = Run.of(config)
        params = quality.quality_params(run, SimpleNamespace())
        return params, quality.quality_training_input(run, SimpleNamespace())

    params, inputs = plan()
    assert params["init_weights"] == {
        "in": "repository",
        "file": "resources/quality-base/quality.pt",
        "sha256": file_hash(BASE_DIR / "quality.pt", 64),
    }
    assert "init_weights" not in inputs
    own = tmp_path / "mine.pt"
    own.write_bytes((BASE_DIR / "quality.pt").read_bytes())
    params, inputs = plan(init_weights=str(own))
    assert params["init_weights"] == inputs["init_weights"] == str(own)
    params, inputs = plan(init_weights="random")
    assert params["init_weights"] is None and "init_weights" not in inputs


def test_publishing_names_a_missing_run_and_refuses_a_fine_tuned_classifier(tmp_path):
    from mosaicflow.io import read_json, write_json

    with pytest.raises(ValueError, match=r"quality\.pt: missing; run `make quality-base`"):
        publish_base(tmp_path / "nowhere", tmp_path / "out")
    models = tmp_path / "work" / "results" / "models" / "quality"
    models.mkdir(parents=True)
    (models / "quality.pt").write_bytes((BASE_DIR / "quality.pt").read_bytes())
    card = read_json(BASE_DIR / "card.json")["training"]
    write_json(
        models / "card.json",
        {**card, "config": {**card["config"], "init_weights": {"file": "q.pt", "sha256": "0"}}},
    )
    with pytest.raises(ValueError, match="started from other weights"):
        publish_base(tmp_path / "work", tmp_path / "out")
    write_json(models / "card.json", card)
    published = publish_base(tmp_path / "work", tmp_path / "out", trained_on="a test")
    assert read_json(published)["trained_on"] == "a test"
    assert (tmp_path / "out" / "quality.pt").read_bytes() == (BASE_DIR / "quality.pt").read_bytes()
