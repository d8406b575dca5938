"""Layering: the demo world is a data source, not a library the stages use.

Every module of the package and every rule script is parsed with ``ast``; imports at any level
(also inside functions, and ``importlib.import_module`` with a literal name) are collected by
:func:`mosaicflow.workflow.codehash.imported_modules`, the reader the rules' code hashes use.
Only the world package itself, the workflow wiring that turns the world's specs into targets and
source videos, and the scripts of the rules in ``workflow/rules/world.smk`` may import
``mosaicflow.world``. Formats the world writes and stages read (its truth) live in
``mosaicflow.formats``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mosaicflow.workflow.codehash import imported_modules

ROOT = Path(__file__).resolve().parents[2]
WORLD = "mosaicflow.world"
#: Package modules (besides ``mosaicflow/world/``) that wire the world into the workflow.
WIRING = {"mosaicflow/workflow/targets.py", "mosaicflow/workflow/sources.py"}


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_world(names: set[str]) -> bool:
    return any(n == WORLD or n.startswith(WORLD + ".") for n in names)


def package_offenders(src: Path) -> list[str]:
    """Package modules outside the world and its wiring that import ``mosaicflow.world``."""
    offenders = []
    for path in sorted((src / "mosaicflow").rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if rel.startswith("mosaicflow/world/") or rel in WIRING:
            continue
        if _imports_world(imported_modules(path, _module_name(path, src))):
            offenders.append(rel)
    return offenders


def world_rule_scripts(rules: Path) -> set[str]:
    """File names of the scripts that the rules in ``world.smk`` run."""
    text = (rules / "world.smk").read_text(encoding="utf-8")
    return set(re.findall(r"script:\s*\n\s*\"\.\./scripts/([^\"]+\.py)\"", text))


def script_offenders(workflow: Path) -> list[str]:
    """Rule scripts that import ``mosaicflow.world`` without being a world rule's script."""
    allowed = world_rule_scripts(workflow / "rules")
    return [
        path.name
        for path in sorted((workflow / "scripts").glob("*.py"))
        if path.name not in allowed and _imports_world(imported_modules(path))
    ]


def test_import_walker_sees_every_form(tmp_path):
    src = tmp_path / "mosaicflow" / "regions"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("")
    forms = {
        "plain.py": "import mosaicflow.world.render\n",
        "from_module.py": "from mosaicflow.world.render import x\n",
        "from_package.py": "from mosaicflow import world\n",
        "relative.py": "from ..world import specs\n",
        "relative_package.py": "from .. import world\n",
        "in_function.py": "def f():\n    from mosaicflow.world import read_truth\n",
        "dynamic.py": "import importlib\nimportlib.import_module('mosaicflow.world')\n",
    }
    for name, code in forms.items():
        (src / name).write_text(code)
    (src / "clean.py").write_text("from mosaicflow.formats import truth\nimport mosaicflow.io\n")
    (src / "lookalike.py").write_text("import mosaicflow.worldly\n")
    offenders = package_offenders(tmp_path)
    assert offenders == sorted(f"mosaicflow/regions/{name}" for name in forms)


def test_world_rule_scripts_are_found():
    scripts = world_rule_scripts(ROOT / "workflow" / "rules")
    assert "render_world_video.py" in scripts and "infer_regions.py" not in scripts
    assert all((ROOT / "workflow" / "scripts" / name).is_file() for name in scripts)


def test_only_the_world_imports_the_world():
    assert package_offenders(ROOT / "src") == []


def test_only_world_rule_scripts_import_the_world():
    assert script_offenders(ROOT / "workflow") == []
