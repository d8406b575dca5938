"""Code as an input: a hash of the package modules a rule's script runs.

Every rule with a script passes ``params: code=code_of("<script>")`` (workflow/rules/common.smk),
which is :func:`script_code_param`, computing :func:`script_code_hash` per planned job: the hash
of the script itself and of :func:`script_closure`, the ``mosaicflow`` modules the script
imports, directly or through other package modules. Snakemake reruns a job when a param
changes, so editing a script or a package module reruns exactly the jobs that run it.

The hash is of contents, never of places or times: the workflow profile (profiles/default)
turns off Snakemake's own code trigger, which reruns a script rule whenever the script file is
newer than the outputs, so that a fresh clone or a moved checkout reruns nothing.

Imports are read with ``ast``, at any level (module level and inside functions), so a module
imported lazily counts as well. What the static reading cannot see is an ``import_module`` whose
name is computed; the package's lazy ``__getattr__`` exports name their modules in a dict literal
instead, which :func:`lazy_exports` reads.

:func:`code_hash` hashes modules named by hand (the whole package, for the run's record).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from mosaicflow.plan.import_cache import ImportsCache

PACKAGE = "mosaicflow"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CORE_MODULES = ("mosaicflow.config", "mosaicflow.io", "mosaicflow.provenance", "mosaicflow.ids")
#: The version of the import reader below: this file's bytes as loaded, and the Python that parses.
READER_VERSION = hashlib.sha256(
    Path(__file__).read_bytes() + "py{}.{}".format(*sys.version_info[:2]).encode()
).hexdigest()[:12]


def imported_modules(path: Path, module: str = "", source: str | None = None) -> set[str]:
    """Absolute dotted names ``path`` imports, at any level of the file.

    ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a
    module or any other name); relative imports are made absolute; ``import_module("a")`` with a
    literal name gives ``a``. Attribute chains on a name bound to a ``mosaicflow`` module
    (``mosaicflow.a.b`` after ``import mosaicflow.a``, ``m.b`` after ``import mosaicflow.a as m``)
    give the dotted name too (``mosaicflow.a.b``), so a submodule or lazy export reached as an
    attribute counts.

    Args:
        path: a Python file.
        module: its dotted name, to resolve relative imports (empty for scripts).
        source: its text, when already read (else read from ``path``).
    """
    if source is None:
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    bound: dict[str, str] = {}  # a local name an import binds -> the dotted name it stands for
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.name)
                top = alias.name.partition(".")[0]
                bound[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            names.add(base)
            for alias in node.names:
                names.add(f"{base}.{alias.name}")
                if alias.name != "*":
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
    # Expressions are walked only where they can name a package module (the slow part).
    bound = {name: target for name, target in bound.items() if _in_package(target)}
    used = re.compile(rf"\b({'|'.join(map(re.escape, bound))})\.") if bound else None
    if "import_module" in source or (used and used.search(source)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_literal_import_module(node):
                names.add(node.args[0].value)  # type: ignore[attr-defined]
            elif isinstance(node, ast.Attribute):
                chain = _attribute_chain(node)
                if chain and chain[0] in bound:
                    names.add(".".join([bound[chain[0]], *chain[1:]]))
    return names


def _in_package(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every statement of ``body`` and of the blocks nested in it (functions, classes, ``if``,
    ``try``, ``with``, loops, ``match``), without descending into expressions."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                yield from _statements(block)


def _is_literal_import_module(node: ast.Call) -> bool:
    """``importlib.import_module("literal")`` or ``import_module("literal")``."""
    func = node.func
    return (
        (
            (isinstance(func, ast.Attribute) and func.attr == "import_module")
            or (isinstance(func, ast.Name) and func.id == "import_module")
        )
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _attribute_chain(node: ast.Attribute) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None when the chain does not start at a plain name."""
    attrs = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        attrs.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    return [current.id, *reversed(attrs)]


def module_file(module: str, root: Path = PACKAGE_ROOT) -> Path | None:
    """The file Python runs for a package module (a package's ``__init__.py``), or None.

    Args:
        module: a dotted name starting with ``mosaicflow``.
        root: the package folder (``src/mosaicflow``).
    """
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if len(parts) > 1 and base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


@functools.cache
def lazy_exports(init: Path) -> dict[str, str]:
    """Name -> module of the lazy exports of a package whose ``__init__.py`` defines
    ``__getattr__``: the string pairs of its module-level dict literals whose values name
    ``mosaicflow`` modules (empty for a package without ``__getattr__``)."""
    tree = ast.parse(init.read_text(encoding="utf-8"), filename=str(init))
    if not any(
        isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in tree.body
    ):
        return {}
    exports = {}
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if not isinstance(value, ast.Dict):
            continue
        for key, target in zip(value.keys, value.values, strict=True):
            if (
                isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and isinstance(target, ast.Constant)
                and isinstance(target.value, str)
                and target.value.startswith(PACKAGE + ".")
            ):
                exports[key.value] = target.value
    return exports


def _package_modules(names: Iterable[str], root: Path) -> set[str]:
    """The package modules behind imported names: for each name the longest prefix that is a
    module (``mosaicflow.config.build`` -> ``mosaicflow.config``), and the module of a lazy
    export (``mosaicflow.world.render_video`` -> ``mosaicflow.world.render``)."""
    modules = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != PACKAGE:
            continue
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            path = module_file(prefix, root)
            if path is None:
                continue
            modules.add(prefix)
            if path.name == "__init__.py" and end < len(parts):
                exports = lazy_exports(path)
                attr = parts[end]
                if attr == "*":
                    modules.update(exports.values())
                elif attr in exports:
                    modules.add(exports[attr])
            break
    return modules


@functools.cache
def _imports_cache() -> ImportsCache:
    """This process's cache of imported names, for this version of :func:`imported_modules`."""
    return ImportsCache.for_reader(READER_VERSION)


@functools.cache
def _module_imports(path: Path, module: str, root: Path) -> frozenset[str]:
    """The package modules one module (or, with an empty name, one script) imports."""
    raw = path.read_bytes()  # the bytes that are both hashed for the key and parsed
    names = _imports_cache().names(
        path, module, raw, lambda: imported_modules(path, module, raw.decode("utf-8"))
    )
    return frozenset(_package_modules(names, root))


@functools.cache
def _closure(script: Path, root: Path) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    pending = list(_module_imports(script, "", root))
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = module_file(module, root)
        if path is None:  # a lazy export naming a module that does not exist
            raise ValueError(f"no such {PACKAGE} module: {module}")
        seen[module] = path
        parent = module.rpartition(".")[0]
        if parent:  # importing a.b runs a/__init__.py first
            pending.append(parent)
        pending.extend(_module_imports(path, module, root))
    return tuple(sorted(seen.values()))


def script_closure(script: str | Path, root: str | Path = PACKAGE_ROOT) -> tuple[Path, ...]:
    """Source files of the package modules ``script`` runs, sorted (computed once per process).

    The modules ``script`` imports, the modules those import, and so on; with each module the
    ``__init__.py`` of every package above it, which Python runs first.

    Args:
        script: a Python file (a rule's script).
        root: the package folder (``src/mosaicflow``).
    """
    closure = _closure(Path(script).resolve(), Path(root).resolve())
    _imports_cache().save()
    return closure


def files_hash(paths: Iterable[Path], root: Path = PACKAGE_ROOT) -> str:
    """Hash of files' paths relative to ``root`` and their bytes (12 hex characters)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def script_code_hash(script: str | Path, root: str | Path = PACKAGE_ROOT) -> str:
    """Hash of a rule script's file name and bytes and of the package modules it runs
    (:func:`script_closure`), 12 hex characters.

    Args:
        script: a Python file (a rule's script).
        root: the package folder (``src/mosaicflow``).
    """
    root, script = Path(root).resolve(), Path(script)
    digest = hashlib.sha256()
    digest.update(script.name.encode() + b"\0" + script.read_bytes() + b"\0")
    digest.update(files_hash(script_closure(script, root), root).encode())
    return digest.hexdigest()[:12]


def script_code_param(script: str | Path) -> Callable[[Any], str]:
    """:func:`script_code_hash` of ``script`` as a rule param: a function of the job's wildcards,
    so the hash is computed when a job of the rule is planned, not when the workflow is read (a
    cluster job reads the whole workflow but needs only its own rule's hash)."""

    @functools.cache
    def hashed() -> str:
        return script_code_hash(script)

    def code(wildcards: Any) -> str:
        return hashed()  # once per rule, whatever the number of its jobs

    return code


def module_files(module: str) -> list[Path]:
    """Return the source files of a ``mosaicflow`` module or subpackage, sorted."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"not a mosaicflow module: {module}")
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    if base.is_dir():
        return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
    file = base.with_suffix(".py")
    if file.is_file():
        return [file]
    raise ValueError(f"no such mosaicflow module: {module}")


@functools.cache
def code_hash(*modules: str) -> str:
    """Hash the source of ``modules`` (whole subpackages) plus the core modules (12 hex
    characters)."""
    modules = set(modules) | set(CORE_MODULES)
    return files_hash({path for module in modules for path in module_files(module)}, PACKAGE_ROOT)
