"""Generated files that must not drift: the conda env and the config reference.

``python -m mosaicflow.devtools write`` regenerates them (``make envs docs``);
``... check`` fails when they differ from what pyproject.toml and config/schema.yaml say
(run by ``make lint`` and by the test suite).

- ``envs/mosaicflow.yaml``: the conda environment every rule names in ``conda:``; its pip list is
  pyproject's dependencies, so ``--sdm conda`` installs exactly what the package pins, and then
  this repository in editable mode (the rule scripts import ``mosaicflow``). Snakemake copies the
  file into its conda prefix (``.snakemake/conda/<hash>.yaml`` or ``--conda-prefix``) and conda
  runs pip from the copy's folder, so no relative path reaches the repository from every place:
  the entry names it through :data:`REPO_ENV_VAR`, which ``workflow/rules/common.smk`` sets and
  pip expands in requirement lines.
- ``config/README.md``: everything below the marker line is the key reference rendered from the
  schema (type, default, per-profile values, description of every key).
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mosaicflow.io import load_yaml

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = REPO / "envs" / "mosaicflow.yaml"
CONFIG_README = REPO / "config" / "README.md"
MARKER = "<!-- Everything below is generated from config/schema.yaml by `make docs`. -->"
#: Environment variable holding the repository root while Snakemake creates the conda env.
REPO_ENV_VAR = "MOSAICFLOW_REPO"
#: The pip entry that installs the repository itself, editable (quoted: paths with spaces).
EDITABLE_SELF = f'-e "${{{REPO_ENV_VAR}}}"'


def render_env(pyproject: Path = REPO / "pyproject.toml") -> str:
    """Render the conda environment file from pyproject's dependencies."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = [
        "# Generated from pyproject.toml by `make envs`; do not edit by hand.",
        "# The pip list mirrors the package's pinned dependencies (see constraints.txt), then",
        f"# installs this repository in editable mode from ${REPO_ENV_VAR}: the workflow sets it",
        "# (workflow/rules/common.smk) because Snakemake copies this file before conda reads it.",
        f"# By hand: {REPO_ENV_VAR}=$PWD conda env create -f envs/mosaicflow.yaml",
        "name: mosaicflow",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    lines += [f'      - "{dep}"' for dep in project["dependencies"]]
    lines.append(f"      - '{EDITABLE_SELF}'")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    return "`" + json.dumps(value) + "`"


def _rows(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        yield key, sub
        if sub.get("type") == "object" and sub.get("properties"):
            yield from _rows(sub, key + ".")


_UNSET = object()


def _embedded_value(config: Mapping[str, Any], key: str) -> Any:
    """The value ``config`` sets for a dotted ``key`` (``_UNSET`` where it sets none)."""
    value: Any = config
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _UNSET
        value = value[part]
    return value


def render_config_reference(
    schema_path: Path = REPO / "config" / "schema.yaml",
    config_path: Path = REPO / "config" / "config.yaml",
) -> str:
    """Render the key reference (markdown) from the schema; where the embedded config sets
    another value than the schema's default, the table gives both."""
    schema = load_yaml(schema_path.read_text(encoding="utf-8"))
    embedded = load_yaml(config_path.read_text(encoding="utf-8")) or {}
    out = [MARKER, "", "## Key reference", ""]
    for section, sub in schema["properties"].items():
        out += [f"### `{section}`", "", " ".join(str(sub.get("description", "")).split()), ""]
        if sub.get("type") != "object":
            out += [f"Type `{sub.get('type')}`, default {_fmt(sub.get('default'))}.", ""]
            continue
        out += ["| key | type | default | description |", "|---|---|---|---|"]
        for key, prop in _rows(sub, f"{section}."):
            kind = prop.get("type", "")
            kind = " or ".join(kind) if isinstance(kind, list) else kind
            if "enum" in prop:
                kind += ": " + " / ".join(json.dumps(v) for v in prop["enum"])
            default = _fmt(prop.get("default"))
            if "x-profile" in prop:
                default = ", ".join(f"{p}: {_fmt(v)}" for p, v in prop["x-profile"].items())
            elif _embedded_value(embedded, key) not in (_UNSET, prop.get("default")):
                default += f"; config.yaml: {_fmt(_embedded_value(embedded, key))}"
            if prop.get("type") == "object" and prop.get("properties"):
                default = "(section)"
            desc = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
            if "x-path" in prop:
                desc += f" *(must exist: {prop['x-path']})*"
            out.append(f"| `{key}` | {kind} | {default} | {desc} |")
        out.append("")
    return "\n".join(out)


def render_config_readme(current: str) -> str:
    """Return config/README.md with its generated part brought up to date."""
    head = current.split(MARKER)[0].rstrip() + "\n\n" if MARKER in current else current
    return head + render_config_reference()


def drifted() -> list[str]:
    """Names of the generated files that differ from their sources."""
    problems = []
    if not ENV_FILE.exists() or ENV_FILE.read_text(encoding="utf-8") != render_env():
        problems.append(f"{ENV_FILE.relative_to(REPO)} differs from pyproject.toml")
    readme = CONFIG_README.read_text(encoding="utf-8") if CONFIG_README.exists() else ""
    if MARKER not in readme or readme != render_config_readme(readme):
        problems.append(
            f"{CONFIG_README.relative_to(REPO)} differs from config/schema.yaml and config.yaml"
        )
    return problems


def main(argv: list[str]) -> int:
    """``write`` regenerates the files, ``check`` reports drift (exit 1)."""
    if argv[1:] == ["write"]:
        ENV_FILE.parent.mkdir(exist_ok=True)
        ENV_FILE.write_text(render_env(), encoding="utf-8")
        current = CONFIG_README.read_text(encoding="utf-8") if CONFIG_README.exists() else ""
        CONFIG_README.write_text(render_config_readme(current), encoding="utf-8")
        return 0
    if argv[1:] == ["check"]:
        problems = drifted()
        for problem in problems:
            print(f"{problem}: run `make docs`", file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m mosaicflow.devtools write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
