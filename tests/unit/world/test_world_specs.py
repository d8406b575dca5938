"""Video specs: names, roles, per-video overrides and seeds; schema minimums of the default."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.config import ConfigError, build, validate_config
from mosaicflow.world import VideoSpec, WorldConfig, video_specs

from .conftest import small_config


def default_config(world: dict | None = None) -> WorldConfig:
    config = {"world": world or {}}
    validate_config(config)
    return build(WorldConfig, config["world"])


def test_default_world_meets_content_minimums():
    specs = video_specs(default_config(), seed=1)
    roles = [s.role for s in specs]
    assert roles.count("train") >= 5 and roles.count("val") >= 1 and roles.count("test") >= 2
    assert [s.name for s in specs][:2] == ["world-train-00", "world-train-01"]
    assert all(
        s.seconds >= 10 and s.fps >= 12 and s.width >= 320 and s.height >= 192 for s in specs
    )
    assert sum(s.audio for s in specs) >= 1
    assert all(s.empty_fraction >= 0.2 and s.watermark_fraction >= 0.3 for s in specs)


@pytest.mark.parametrize(
    ("world", "message"),
    [
        ({"roles": {"train": 4}}, r"'world\.roles\.train': 4 is less than the minimum of 5"),
        ({"roles": {"test": 1}}, r"'world\.roles\.test': 1 is less than the minimum of 2"),
        ({"seconds": 9}, r"'world\.seconds': 9 is less than the minimum of 10"),
        ({"fps": 10}, r"'world\.fps': 10 is less than the minimum of 12"),
        ({"width": 256}, r"'world\.width': 256 is less than the minimum of 320"),
        (
            {"empty_fraction": 0.1},
            r"'world\.empty_fraction': 0\.1 is less than the minimum of 0\.2",
        ),
        (
            {"watermark_fraction": 0.2},
            r"'world\.watermark_fraction': 0\.2 is less than the minimum of 0\.3",
        ),
        ({"audio_videos": []}, r"'world\.audio_videos': \[\] should be non-empty"),
        (
            {"videos": {"world-test-01": {"seconds": 5}}},
            r"'world\.videos\.world-test-01\.seconds': 5 is less than the minimum of 10",
        ),
        (
            {"videos": {"world-test-01": {"colour": 1}}},
            r"'world\.videos\.world-test-01': .*\('colour' was unexpected\)",
        ),
        (
            {"videos": {"not-a-video": {"seconds": 12}}},
            r"'world\.videos': 'not-a-video' does not match",
        ),
    ],
)
def test_schema_rejects_worlds_below_minimums(world, message):
    with pytest.raises(ConfigError, match=message):
        default_config(world)


def test_override_changes_only_that_video():
    base = {s.name: s for s in video_specs(default_config(), seed=3)}
    changed = {
        s.name: s
        for s in video_specs(default_config({"videos": {"world-test-01": {"seconds": 12}}}), 3)
    }
    assert changed["world-test-01"].seconds == 12
    assert changed["world-test-01"].params_hash() != base["world-test-01"].params_hash()
    for name in base.keys() - {"world-test-01"}:
        assert changed[name] == base[name]
        assert changed[name].params_hash() == base[name].params_hash()


def test_unknown_video_names_fail_naming_the_key():
    with pytest.raises(ConfigError, match=r"world\.videos"):
        video_specs(small_config(videos={"world-test-09": {"seconds": 5}}), 1)
    with pytest.raises(ConfigError, match=r"world\.audio_videos"):
        video_specs(small_config(audio_videos=("world-val-03",)), 1)
    with pytest.raises(ConfigError, match="colour"):
        video_specs(small_config(videos={"world-test-00": {"colour": 5}}), 1)


def test_spec_round_trips_through_dict():
    for spec in video_specs(small_config(), 5):
        assert VideoSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unknown"):
        VideoSpec.from_dict({**spec.to_dict(), "extra": 1})


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**40), variant=st.integers(0, 5))
def test_seeds_depend_on_global_seed_name_and_variant(seed, variant):
    cfg = small_config(videos={"world-train-01": {"variant": variant}})
    specs = video_specs(cfg, seed)
    assert len({s.seed for s in specs}) == len(specs)
    again = video_specs(small_config(), seed)
    assert specs[0].seed == again[0].seed
    assert (specs[1].seed == again[1].seed) == (variant == 0)
    assert video_specs(small_config(), seed + 1)[0].seed != specs[0].seed
