"""Generated files agree with their sources: conda env with pyproject, docs with the schema."""

from __future__ import annotations

import re
import tomllib

import yaml

from mosaicflow.workflow import devtools


def test_no_generated_file_has_drifted():
    assert devtools.drifted() == [], "run `make docs`"


def test_env_pip_list_is_pyproject_dependencies():
    env = yaml.safe_load(devtools.ENV_FILE.read_text())
    pip = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    project = tomllib.loads((devtools.REPO / "pyproject.toml").read_text())["project"]
    assert pip == project["dependencies"]
    assert "python=3.11" in env["dependencies"]


def test_every_rule_names_the_env():
    rules = (devtools.REPO / "workflow" / "rules").glob("*.smk")
    for path in rules:
        text = path.read_text()
        rules = len(re.findall(r"^(?:rule|checkpoint) ", text, flags=re.M))
        assert rules == len(re.findall(r"^    conda:\n        ENV$", text, flags=re.M)), path.name


def test_config_reference_lists_every_schema_key():
    reference = devtools.render_config_reference()
    schema = yaml.safe_load((devtools.REPO / "config" / "schema.yaml").read_text())
    for section, sub in schema["properties"].items():
        for key in sub.get("properties", {}):
            assert f"`{section}.{key}`" in reference
