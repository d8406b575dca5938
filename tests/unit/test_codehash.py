"""Code hashes: a rule's hash covers exactly the package modules its script runs."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mosaicflow.plan import codehash
from mosaicflow.plan.codehash import script_closure, script_code_hash

ROOT = Path(__file__).resolve().parents[2]

#: A fake package: each file's imports, in every form the closure follows.
FAKE_PACKAGE = {
    "__init__.py": "",
    "core.py": "import json\n",
    "unrelated.py": "import mosaicflow.core\n",
    "alpha/__init__.py": "",
    "alpha/entry.py": "from mosaicflow import core\n\ndef run():\n    from .inner import step\n",
    "alpha/inner.py": "from ..beta import chain\n",
    "beta/__init__.py": "from mosaicflow.beta.light import LIGHT\n",
    "beta/light.py": "LIGHT = 1\n",
    "beta/chain.py": "import importlib\n\nimportlib.import_module('mosaicflow.deep')\n",
    "beta/spare.py": "",
    "deep.py": "from mosaicflow.gamma.leaf import x\n",
    "gamma/__init__.py": "",
    "gamma/leaf.py": "x = 1\n",
    "lazy/__init__.py": (
        "import importlib\n\n"
        "_EXPORTS = {'thing': 'mosaicflow.lazy.impl', 'other': 'mosaicflow.lazy.unused'}\n\n"
        "def __getattr__(name):\n"
        "    return getattr(importlib.import_module(_EXPORTS[name]), name)\n"
    ),
    "lazy/impl.py": "thing = 1\n",
    "lazy/unused.py": "other = 1\n",
    "attr/__init__.py": "",
    "attr/reached.py": "",
}


@pytest.fixture
def package(tmp_path):
    """A fake ``mosaicflow`` package and a script that imports from it; returns (root, script)."""
    root = tmp_path / "src" / "mosaicflow"
    for name, code in FAKE_PACKAGE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(code)
    script = tmp_path / "script.py"
    script.write_text(
        "import numpy\n"
        "import mosaicflow.attr\n"
        "from mosaicflow.alpha.entry import run\n"
        "from mosaicflow.lazy import thing\n"
        "mosaicflow.attr.reached.go()\n"
    )
    return root, script


def closure_names(script: Path, root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in script_closure(script, root)}


def test_closure_follows_imports_at_any_depth(package):
    root, script = package
    closure = closure_names(script, root)
    assert "alpha/entry.py" in closure and "core.py" in closure
    assert "alpha/inner.py" in closure  # imported only inside a function, relatively
    assert "beta/chain.py" in closure  # `from ..beta import chain`
    assert "deep.py" in closure  # importlib.import_module("literal")
    assert "gamma/leaf.py" in closure  # five imports down the chain


def test_closure_holds_the_packages_python_runs_first(package):
    root, script = package
    closure = closure_names(script, root)
    for init in ("__init__.py", "alpha/__init__.py", "beta/__init__.py", "gamma/__init__.py"):
        assert init in closure
    assert "beta/light.py" in closure  # imported only by its package's __init__


def test_closure_follows_lazy_exports_and_attributes(package):
    root, script = package
    closure = closure_names(script, root)
    assert {"lazy/__init__.py", "lazy/impl.py"} <= closure
    assert "lazy/unused.py" not in closure  # exported, but not imported
    assert "attr/reached.py" in closure  # reached as an attribute of an imported package


def test_closure_leaves_out_what_the_script_does_not_reach(package):
    root, script = package
    closure = closure_names(script, root)
    assert closure == set(FAKE_PACKAGE) - {"unrelated.py", "beta/spare.py", "lazy/unused.py"}


def test_hash_changes_exactly_when_a_file_in_the_closure_changes(package):
    root, script = package
    first = script_code_hash(script, root)
    assert len(first) == 12 and first == script_code_hash(script, root)
    (root / "unrelated.py").write_text("import os\n")
    (root / "beta" / "spare.py").write_text("changed = True\n")
    assert script_code_hash(script, root) == first
    leaf = root / "gamma" / "leaf.py"
    leaf.write_text("x = 2\n")
    assert script_code_hash(script, root) != first
    leaf.write_text("x = 1\n")
    assert script_code_hash(script, root) == first
    # the script's own bytes count; its modification time does not
    text = script.read_text()
    script.write_text(text + "# edited\n")
    assert script_code_hash(script, root) != first
    script.write_text(text)
    os.utime(script, (1, 1))
    assert script_code_hash(script, root) == first


def test_missing_lazy_export_module_is_an_error(tmp_path):
    root = tmp_path / "mosaicflow"
    (root / "lazy").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "lazy" / "__init__.py").write_text(
        "_EXPORTS = {'thing': 'mosaicflow.lazy.gone'}\n\ndef __getattr__(name):\n    pass\n"
    )
    script = tmp_path / "script.py"
    script.write_text("from mosaicflow.lazy import thing\n")
    with pytest.raises(ValueError, match=r"no such mosaicflow module: mosaicflow\.lazy\.gone"):
        script_closure(script, root)


def test_real_script_closure_reaches_what_the_job_runs():
    closure = closure_names(ROOT / "workflow" / "scripts" / "build_restoration_clips.py",
                            codehash.PACKAGE_ROOT)  # fmt: skip
    # the clip builder runs the watermark detector (ultralytics set-up in yolo.offline) and
    # reads the demo truth through yolo.infer
    expected = {"yolo/offline.py", "yolo/watermark.py", "datasets/clips/jobs.py"}
    expected.add("formats/truth.py")
    assert expected <= closure
    assert {"config.py", "io.py"} <= closure
    assert not any(name.startswith(("world/", "restore/")) for name in closure)


def test_no_job_reaches_the_dag_planning_modules():
    # the DAG's planning (the run, the stages, paths, sources) changes with every new rule; a
    # job that imported it would rerun each time although its own code did not change. The
    # rule scripts' set-up (plan/runtime.py) and the code hasher (plan/codehash.py and its
    # imports cache, which the metrics gathering records the run's code with) are the modules of
    # the package they use.
    allowed = {"plan/__init__.py", "plan/runtime.py", "plan/codehash.py", "plan/import_cache.py"}
    planning = {
        path.relative_to(codehash.PACKAGE_ROOT).as_posix()
        for path in (codehash.PACKAGE_ROOT / "plan").rglob("*.py")
    } - allowed
    assert {"plan/run.py", "plan/paths.py", "plan/stages/__init__.py"} <= planning
    for script in sorted((ROOT / "workflow" / "scripts").glob("*.py")):
        closure = closure_names(script, codehash.PACKAGE_ROOT)
        assert "plan/runtime.py" in closure, script.name
        reached = planning & closure
        assert not reached, f"{script.name} reaches {sorted(reached)}"


def test_real_lazy_exports_lead_to_their_modules():
    # `from mosaicflow.world import render_video` runs mosaicflow.world.render on first use
    closure = closure_names(ROOT / "workflow" / "scripts" / "render_world_video.py",
                            codehash.PACKAGE_ROOT)  # fmt: skip
    assert {"world/__init__.py", "world/render.py", "world/assets.py"} <= closure
    assert "world/labels.py" not in closure


def computed_imports(path: Path) -> set[str]:
    """The top-level functions (``<module>`` for module code) of ``path`` that call
    ``import_module`` with a computed name, which no static reading follows."""
    found = set()
    for top in ast.parse(path.read_text(encoding="utf-8")).body:
        for node in ast.walk(top):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
                and not (node.args and isinstance(node.args[0], ast.Constant))
            ):
                found.add(top.name if isinstance(top, ast.FunctionDef) else "<module>")
    return found


def test_computed_imports_are_lazy_exports_or_unreached():
    # a package __getattr__ may import a computed name when its dict literal names the modules
    # (codehash.lazy_exports); anywhere else no rule script may reach such an import
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    reached = {path for script in scripts for path in script_closure(script)}
    offenders, lazy = [], []
    for path in sorted(codehash.PACKAGE_ROOT.rglob("*.py")):
        where = computed_imports(path)
        if where == {"__getattr__"} and codehash.lazy_exports(path):
            lazy.append(path.parent.name)
        elif where and path in reached:
            offenders.append(path.relative_to(codehash.PACKAGE_ROOT).as_posix())
    assert offenders == []
    assert {"clips", "mosaic", "world"} <= set(lazy)


#: Loads the workflow (demo config) and writes each rule's script and code param as JSON.
RULES_DUMP = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import OutputSettings, ResourceSettings

    snakefile, workdir, out = map(Path, sys.argv[1:])
    with SnakemakeApi(OutputSettings()) as api:
        workflow_api = api.workflow(ResourceSettings(), snakefile=snakefile, workdir=workdir)
        rules = {}
        for rule in workflow_api._workflow.rules:  # the parsed rules, as --list-rules reads them
            script = Path(str(rule.basedir), rule.script).resolve() if rule.script else None
            code = dict(rule.params.items()).get("code")
            code = code(None) if callable(code) else code  # code_of hashes when a job is planned
            rules[rule.name] = {"script": script and str(script), "code": code}
    out.write_text(json.dumps(rules))
    """
)


def test_every_rule_hashes_its_scripts_closure(tmp_path):
    out = tmp_path / "rules.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ["PYTHONPATH"]]),
    }
    subprocess.run(
        [sys.executable, "-c", RULES_DUMP, str(ROOT / "Snakefile"), str(tmp_path), str(out)],
        check=True, capture_output=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    rules = json.loads(out.read_text())
    scripted = {name: rule for name, rule in rules.items() if rule["script"]}
    assert len(scripted) >= 25
    wrong = {
        name: rule
        for name, rule in scripted.items()
        if rule["code"] != script_code_hash(rule["script"])
    }
    assert wrong == {}
    # every rule's code is a hash: a rule without a script names its modules by hand
    assert all(rule["code"] for name, rule in rules.items() if name != "all")
    assert {Path(rule["script"]).name for rule in scripted.values()} == {
        path.name for path in (ROOT / "workflow" / "scripts").glob("*.py")
    }


def test_module_list_hash_is_stable_and_module_specific():
    assert codehash.code_hash("mosaicflow.plan") == codehash.code_hash("mosaicflow.plan")
    assert codehash.code_hash("mosaicflow.plan") != codehash.code_hash("mosaicflow.cli")


def test_module_list_hash_follows_file_content(tmp_path, monkeypatch):
    pkg = tmp_path / "mosaicflow"
    (pkg / "alpha").mkdir(parents=True)
    for core in ("config", "io", "provenance", "ids"):
        (pkg / f"{core}.py").write_text("")
    (pkg / "alpha" / "a.py").write_text("x = 1\n")
    (pkg / "beta.py").write_text("y = 1\n")
    monkeypatch.setattr(codehash, "PACKAGE_ROOT", pkg)
    first_alpha = codehash.code_hash.__wrapped__("mosaicflow.alpha")
    first_beta = codehash.code_hash.__wrapped__("mosaicflow.beta")
    (pkg / "alpha" / "a.py").write_text("x = 2\n")
    assert codehash.code_hash.__wrapped__("mosaicflow.alpha") != first_alpha
    assert codehash.code_hash.__wrapped__("mosaicflow.beta") == first_beta


def test_unknown_module_is_an_error():
    with pytest.raises(ValueError, match="no such mosaicflow module"):
        codehash.code_hash("mosaicflow.nope")
