"""Generated files agree with their sources: conda env with pyproject, docs with the schema."""

from __future__ import annotations

import re
import tomllib

import yaml

from mosaicflow import devtools


def test_no_generated_file_has_drifted():
    assert devtools.drifted() == [], "run `make docs`"


def _pip_list() -> list[str]:
    env = yaml.safe_load(devtools.ENV_FILE.read_text())
    assert "python=3.11" in env["dependencies"]
    return next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))


def test_env_pip_list_is_pyproject_dependencies_then_the_repository():
    project = tomllib.loads((devtools.REPO / "pyproject.toml").read_text())["project"]
    assert _pip_list() == [*project["dependencies"], devtools.EDITABLE_SELF]


def test_pip_expands_the_editable_entry_to_the_repository(tmp_path, monkeypatch):
    # conda writes the pip list into a requirements file and runs `pip install -r` on it
    from pip._internal.network.session import PipSession
    from pip._internal.req.req_file import parse_requirements

    repo = tmp_path / "my checkout"
    monkeypatch.setenv(devtools.REPO_ENV_VAR, str(repo))
    requirements = tmp_path / "condaenv.requirements.txt"
    requirements.write_text("\n".join(_pip_list()) + "\n")
    parsed = list(parse_requirements(str(requirements), session=PipSession()))
    editable = [r.requirement for r in parsed if r.is_editable]
    assert editable == [str(repo)]
    assert len(parsed) == len(_pip_list())


def test_workflow_points_rules_and_pip_at_this_repository():
    common = (devtools.REPO / "workflow" / "rules" / "common.smk").read_text()
    env = re.search(r'^ENV = "([^"]+)"$', common, flags=re.M)
    assert env is not None
    resolved = (devtools.REPO / "workflow" / "rules" / env.group(1)).resolve()
    assert resolved == devtools.ENV_FILE.resolve()
    # workflow.basedir is the folder of the main Snakefile: the repository root
    assert "os.environ[devtools.REPO_ENV_VAR] = workflow.basedir" in common
    assert (devtools.REPO / "Snakefile").is_file()
    assert (devtools.REPO / "pyproject.toml").is_file()


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


def test_the_key_reference_gives_the_embedded_config_s_value_where_it_differs(tmp_path):
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "properties:\n  quality:\n    type: object\n    properties:\n"
        "      enabled: {type: boolean, default: false}\n      crop: {type: integer, default: 64}\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text("quality:\n  enabled: true\n  crop: 64\n")
    rows = devtools.render_config_reference(schema, config).splitlines()
    assert "| `quality.enabled` | boolean | `false`; config.yaml: `true` |  |" in rows
    assert "| `quality.crop` | integer | `64` |  |" in rows
