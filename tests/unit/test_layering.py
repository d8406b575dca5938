"""Layering: packages import only packages below them, and the demo world is a data source,
not a library the stages use.

Every module of the package and every rule script is parsed with ``ast``; imports at any level
(also inside functions, and ``importlib.import_module`` with a literal name) are collected by
:func:`mosaicflow.plan.codehash.imported_modules`, the reader the rules' code hashes use.
Only the world package itself, the workflow wiring that turns the world's specs into targets and
source videos, and the scripts of the rules in ``workflow/rules/world.smk`` may import
``mosaicflow.world``. Formats the world writes and stages read (its truth) live in
``mosaicflow.formats``. :data:`LAYERS` orders the package's top-level packages and modules
from the bottom up; a module may import its own package and the layers below it, never a layer
beside or above it.
"""

from __future__ import annotations

import re
from pathlib import Path

from mosaicflow.plan.codehash import imported_modules

ROOT = Path(__file__).resolve().parents[2]
WORLD = "mosaicflow.world"
#: Package modules (besides ``mosaicflow/world/``) that wire the world into the workflow, and
#: the shipped bases' cards, which record the world they were trained on.
WIRING = {
    "mosaicflow/plan/run.py",
    "mosaicflow/plan/sources.py",
    "mosaicflow/plan/stages/world.py",
    "mosaicflow/shipped.py",
}


#: The package's parts from the bottom up: each may import only the layers below it.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "__version__ io ids devices threads process picklescan vision_import snakemake_patch "
        "progress cli_args file_names",
        "config",
        "provenance figures outputs bootstrap",
        "installed writing",
        "video",
        "formats mosaic",
        "world",
        "shipped",
        "yolo quality",
        "nudenet",
        "datasets",
        "restore",
        "inference",
        "plan",
        "evaluation",
        "inspection",
        "curate",
        "cli devtools config_checks",
    )
)


def _part(module: str) -> str:
    """The top-level part of a ``mosaicflow`` module (``mosaicflow.yolo.fit`` -> ``yolo``)."""
    return module.split(".")[1]


def _layer(part: str) -> int:
    for level, layer in enumerate(LAYERS):
        if part in layer:
            return level
    raise KeyError(part)


def upward_imports(src: Path) -> list[str]:
    """``module -> imported`` for every import of a layer beside or above the importer's, and
    ``module: not in LAYERS`` for a top-level part no layer names."""
    found = []
    for path in sorted((src / "mosaicflow").rglob("*.py")):
        name = _module_name(path, src)
        if name == "mosaicflow":
            continue
        part = _part(name)
        try:
            level = _layer(part)
        except KeyError:
            found.append(f"{name}: {part!r} is in no layer of LAYERS")
            continue
        others = {_part(m) for m in imported_modules(path, name) if m.startswith("mosaicflow.")}
        for other in sorted(others - {part}):
            if other not in set().union(*LAYERS) or _layer(other) >= level:
                found.append(f"{name} -> mosaicflow.{other}")
    return found


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
    src = tmp_path / "mosaicflow" / "yolo"
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
    assert offenders == sorted(f"mosaicflow/yolo/{name}" for name in forms)


def test_world_rule_scripts_are_found():
    scripts = world_rule_scripts(ROOT / "workflow" / "rules")
    assert "render_world_video.py" in scripts and "infer_regions.py" not in scripts
    assert all((ROOT / "workflow" / "scripts" / name).is_file() for name in scripts)


def test_only_the_world_imports_the_world():
    assert package_offenders(ROOT / "src") == []


def test_only_world_rule_scripts_import_the_world():
    assert script_offenders(ROOT / "workflow") == []


def test_no_package_imports_upward():
    assert upward_imports(ROOT / "src") == []


def test_upward_imports_are_found(tmp_path: Path):
    pkg = tmp_path / "mosaicflow"
    for part in ("yolo", "plan", "video"):
        (pkg / part).mkdir(parents=True)
        (pkg / part / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "yolo" / "up.py").write_text("def f():\n    from mosaicflow.plan import paths\n")
    (pkg / "yolo" / "down.py").write_text("from mosaicflow.video import decode\n")
    (pkg / "video" / "side.py").write_text("import mosaicflow.video.decode\n")
    (pkg / "newpart.py").write_text("")
    assert upward_imports(tmp_path) == [
        "mosaicflow.newpart: 'newpart' is in no layer of LAYERS",
        "mosaicflow.yolo.up -> mosaicflow.plan",
    ]


def test_no_regions_package_remains():
    assert not (ROOT / "src" / "mosaicflow" / "regions").exists()
    assert not (ROOT / "src" / "mosaicflow" / "detector").exists()
