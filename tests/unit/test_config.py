"""Config validation: defaults, profiles, errors that name the key, path checks."""

from __future__ import annotations

import copy

import pytest

from mosaicflow.config import ConfigError, load_schema, stable_hash, validate_config


@pytest.fixture(scope="module")
def schema():
    return load_schema()


def walk(schema, prefix=""):
    for name, sub in schema.get("properties", {}).items():
        yield f"{prefix}{name}", sub
        if sub.get("type") == "object":
            yield from walk(sub, f"{prefix}{name}.")


def test_every_key_is_documented_typed_and_defaulted(schema):
    problems = []
    for key, sub in walk(schema):
        for field in ("type", "description", "default"):
            if field not in sub:
                problems.append(f"{key}: no {field}")
        is_section = sub.get("type") == "object" and "properties" in sub
        if is_section and sub.get("additionalProperties") is not False:
            problems.append(f"{key}: additionalProperties must be false")
        if "x-profile" in sub:
            if sub["default"] is not None:
                problems.append(f"{key}: x-profile keys default to null")
            if set(sub["x-profile"]) != {"demo", "full"}:
                problems.append(f"{key}: x-profile needs demo and full")
    assert schema["additionalProperties"] is False
    assert not problems, problems


def test_empty_config_gets_every_default(schema):
    config = {}
    validate_config(config, schema)
    assert config["profile"] == "demo"
    assert config["source"]["kind"] == "demo"
    assert config["frames"]["mpdecimate"]["hi"] == 768
    assert config["regions"]["imgsz"] == 256  # resolved from x-profile demo


def test_full_profile_selects_lada_sizes(schema):
    config = {"profile": "full"}
    validate_config(config, schema)
    assert config["regions"]["model"] is None  # the YOLO base, as in the demo
    assert config["regions"]["imgsz"] == 640 and config["regions"]["epochs"] == 200
    assert config["restoration"]["mid_channels"] == 64
    assert config["restoration"]["num_blocks"] == 15


def test_explicit_value_beats_profile(schema):
    config = {"profile": "full", "regions": {"imgsz": 320}}
    validate_config(config, schema)
    assert config["regions"]["imgsz"] == 320


def test_unknown_key_is_named(schema):
    with pytest.raises(ConfigError, match=r"config key 'frames'.*'mpdecimat' was unexpected"):
        validate_config({"frames": {"mpdecimat": {}}}, schema)


def test_unknown_top_level_key_lists_allowed_keys(schema):
    with pytest.raises(ConfigError, match=r"'sead' was unexpected.*allowed keys here: .*seed"):
        validate_config({"sead": 1}, schema)


def test_wrong_type_is_named(schema):
    with pytest.raises(ConfigError, match=r"config key 'frames\.mpdecimate\.hi': 'x' is not"):
        validate_config({"frames": {"mpdecimate": {"hi": "x"}}}, schema)


def test_all_errors_reported_at_once(schema):
    both = r"(?s)config key 'device': 'gpu0' does not match.*config key 'seed': -1 is less"
    with pytest.raises(ConfigError, match=both):
        validate_config({"seed": -1, "device": "gpu0"}, schema)


def test_missing_path_names_key_and_path(schema, tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(
        ConfigError, match=rf"config key 'regions\.weights': file not found: {missing}"
    ):
        validate_config({"regions": {"weights": str(missing)}}, schema)


def test_every_path_of_a_list_is_checked(schema, tmp_path):
    font = tmp_path / "a.ttf"
    font.write_bytes(b"x")
    validate_config({"watermark_set": {"fonts": [str(font)]}}, schema)
    missing = tmp_path / "b.ttf"
    with pytest.raises(
        ConfigError, match=rf"config key 'watermark_set\.fonts': file not found: {missing}"
    ):
        validate_config({"watermark_set": {"fonts": [str(font), str(missing)]}}, schema)


def test_existing_path_passes_and_folder_kind_is_checked(schema, tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    validate_config({"regions": {"weights": str(weights)}}, schema)
    with pytest.raises(ConfigError, match=r"source\.labelme_train': folder not found"):
        validate_config({"source": {"labelme_train": str(weights)}}, schema)


def test_validation_does_not_mutate_schema_defaults(schema):
    before = copy.deepcopy(schema)
    validate_config({}, schema)
    validate_config({"profile": "full"}, schema)
    assert schema == before


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_speed_settings_are_left_out_of_a_jobs_identity():
    from types import SimpleNamespace

    from mosaicflow.config import runtime_keys, without_runtime
    from mosaicflow.plan.runtime import runtime_setting

    assert runtime_keys() == {"frames.decode_threads", "restoration.num_workers"}
    config = {"profile": "full", "frames": {"decode_threads": 8}}
    validate_config(config)
    frames = without_runtime(config["frames"], "frames")
    assert "decode_threads" not in frames and frames["every_n"] == config["frames"]["every_n"]
    assert "num_workers" not in without_runtime(config, "")["restoration"]
    assert without_runtime({"decode_threads": 1}, "frames") == {}
    assert (
        without_runtime(config["restoration"]["stage1"], "restoration.stage1")
        == (config["restoration"]["stage1"])
    )
    job = SimpleNamespace(config=config)
    assert runtime_setting(job, "frames.decode_threads") == 8
    assert runtime_setting(job, "restoration.num_workers") == 4  # the full profile's
    with pytest.raises(KeyError, match=r"frames\.every_n is not an x-runtime key"):
        runtime_setting(job, "frames.every_n")
