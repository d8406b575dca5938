"""Configuration: validation against ``config/schema.yaml``, profiles, typed stage configs.

The schema is the single place where every key, its type, its default and its documentation live.
Three custom schema keywords extend JSON schema:

- ``x-profile: {demo: V, full: W}`` on a property whose default is ``null``: the value that
  ``profile`` selects when the user leaves the key unset (so model sizes and budgets switch with
  one key, and every number still lives once, in the schema).
- ``x-path: file|dir|any``: a path (or a list of paths) that must exist when it is set
  (checked before any job runs, the error names the key and the path). A file that is a torch
  checkpoint (``.pt``, ``.pth``, ``.ckpt``) must not name a global that runs code when
  unpickled (:func:`mosaicflow.picklescan.foreign_globals`, read without unpickling it).
- ``x-path-optional-when``: not used; paths are optional whenever their value is ``null``.
- ``x-named-paths: {name: path-or-null}`` on an ``x-path`` key: names a value can take instead
  of a path (``base``: a file shipped in this repository, relative to its root; ``random``:
  null, nothing to load). Resolved after the profile, before the paths are checked.
- ``x-runtime: true``: a setting that changes how fast a job runs, never what it writes
  (decoder threads, DataLoader workers). Rules leave it out of their params
  (:func:`without_runtime`) and read it at run time, so changing it reruns nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from mosaicflow.io import load_yaml

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"


class ConfigError(ValueError):
    """A configuration problem, with a message that names the offending key."""


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    """Load the config schema (``config/schema.yaml`` of this checkout by default)."""
    with open(path or SCHEMA_PATH, encoding="utf-8") as handle:
        return load_yaml(handle.read())


@functools.cache
def runtime_keys() -> frozenset[str]:
    """Dotted names of the ``x-runtime`` keys of ``config/schema.yaml``."""
    found: set[str] = set()

    def walk(schema: Mapping[str, Any], prefix: str) -> None:
        for name, sub in schema.get("properties", {}).items():
            if sub.get("x-runtime"):
                found.add(prefix + name)
            walk(sub, f"{prefix}{name}.")

    walk(load_schema(), "")
    return frozenset(found)


def without_runtime(value: Any, dotted: str) -> Any:
    """The config value at ``dotted`` (a section, ``"frames"``; Snakemake's ``"a/b"`` paths
    too) without its ``x-runtime`` keys: what a job's identity (its rule params) holds."""
    if not isinstance(value, Mapping):
        return value
    dotted = dotted.replace("/", ".")
    prefix = f"{dotted}." if dotted else ""
    return {
        name: without_runtime(sub, prefix + name)
        for name, sub in value.items()
        if prefix + name not in runtime_keys()
    }


def _key(path: typing.Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _fill_defaults(instance: Any, schema: Mapping[str, Any]) -> None:
    """Fill schema defaults into ``instance`` in place, recursing into objects."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for name, sub in schema.get("properties", {}).items():
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
        if name in instance:
            _fill_defaults(instance[name], sub)


def _resolve_profile(instance: Any, schema: Mapping[str, Any], profile: str) -> None:
    """Replace ``null`` values of ``x-profile`` keys by the value of the active profile."""
    if not isinstance(instance, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        if "x-profile" in sub and instance.get(name) is None:
            instance[name] = copy.deepcopy(sub["x-profile"][profile])
        if name in instance:
            _resolve_profile(instance[name], sub, profile)


def _resolve_named_paths(instance: Any, schema: Mapping[str, Any]) -> None:
    """Replace the names of ``x-named-paths`` keys by their path (absolute) or ``None``."""
    if not isinstance(instance, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        named = sub.get("x-named-paths") or {}
        value = instance.get(name)
        if isinstance(value, str) and value in named:
            target = named[value]
            instance[name] = str(REPO_ROOT / target) if target is not None else None
        if name in instance:
            _resolve_named_paths(instance[name], sub)


def _format_error(error: Any) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"config key '{key}': {error.message}; allowed keys here: {', '.join(allowed)}"
    if error.validator == "const" and error.schema.get("description"):
        return f"config key '{key}': {error.message} ({error.schema['description']})"
    return f"config key '{key}': {error.message}"


def validate_config(config: dict[str, Any], schema: Mapping[str, Any] | None = None) -> None:
    """Validate ``config`` in place: fill defaults, apply the profile, check types and paths.

    Args:
        config: the merged Snakemake config (modified in place: defaults are added).
        schema: the loaded schema; ``config/schema.yaml`` when omitted.

    Raises:
        ConfigError: naming every offending key (unknown key, wrong type, missing path).
    """
    import jsonschema

    schema = schema if schema is not None else load_schema()
    _fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(map(_format_error, errors)))
    _resolve_profile(config, schema, config["profile"])
    _resolve_named_paths(config, schema)
    missing = list(missing_paths(config, schema))
    if missing:
        raise ConfigError(
            "configured paths do not exist:\n  "
            + "\n  ".join(
                f"config key '{key}': {kind} not found: {path}" for key, path, kind in missing
            )
        )
    refused = list(refused_checkpoints(config, schema))
    if refused:
        raise ConfigError(
            "configured checkpoints would run code when loaded (refused, never unpickled):\n  "
            + "\n  ".join(
                f"config key '{key}': {path} names {', '.join(names)}"
                for key, path, names in refused
            )
        )


#: Suffixes of the torch checkpoints :func:`refused_checkpoints` reads.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def refused_checkpoints(
    config: Mapping[str, Any], schema: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> typing.Iterator[tuple[str, str, list[str]]]:
    """Yield ``(key, path, globals)`` for every configured torch checkpoint (an existing
    ``x-path: file`` with a :data:`CHECKPOINT_SUFFIXES` suffix) that names globals no model
    file holds (:func:`mosaicflow.picklescan.foreign_globals`); its bytes are read, never
    unpickled. A file that is no torch archive is left to the job that loads it."""
    from mosaicflow.picklescan import NotATorchArchive, foreign_globals

    for name, sub in schema.get("properties", {}).items():
        value = config.get(name) if isinstance(config, Mapping) else None
        if value is None:
            continue
        if sub.get("x-path") == "file" and isinstance(value, str):
            path = Path(value)
            if path.suffix.lower() in CHECKPOINT_SUFFIXES and path.is_file():
                try:
                    names = foreign_globals(path)
                except NotATorchArchive:
                    names = []
                if names:
                    yield _key((*prefix, name)), value, names
        if isinstance(value, Mapping):
            yield from refused_checkpoints(value, sub, (*prefix, name))


def missing_paths(
    config: Mapping[str, Any], schema: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> typing.Iterator[tuple[str, str, str]]:
    """Yield ``(key, path, kind)`` for every set ``x-path`` key whose path does not exist.

    Relative paths are taken relative to the current directory (Snakemake's working directory).
    """
    for name, sub in schema.get("properties", {}).items():
        value = config.get(name) if isinstance(config, Mapping) else None
        if value is None:
            continue
        kind = sub.get("x-path")
        given = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for item in given if kind else []:
            path = Path(str(item))
            ok = {"file": path.is_file, "dir": path.is_dir}.get(kind, path.exists)()
            if not ok:
                yield (
                    _key((*prefix, name)),
                    str(item),
                    {"file": "file", "dir": "folder"}.get(kind, "path"),
                )
        if isinstance(value, Mapping):
            yield from missing_paths(value, sub, (*prefix, name))


def _convert(value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation) and isinstance(value, Mapping):
        return build(annotation, value)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                if value is None:
                    return None
                continue
            if dataclasses.is_dataclass(arg) and isinstance(value, Mapping):
                return build(arg, value)
        return _freeze(value)
    if origin is tuple and isinstance(value, list | tuple):
        inner = args[0] if args else Any
        return tuple(_convert(item, inner) for item in value)
    return _freeze(value)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def build(cls: type[T], mapping: Mapping[str, Any]) -> T:
    """Build the frozen stage config ``cls`` from a validated config section.

    Nested dataclass fields are built from nested mappings; lists become tuples. Keys in the
    mapping must be exactly the dataclass fields (the schema guarantees it after validation).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(mapping) - names
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    kwargs = {name: _convert(value, hints[name]) for name, value in mapping.items()}
    return cls(**kwargs)


def schema_section(schema: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    """Return the sub-schema of a dotted key (``"frames"``, ``"restoration.stage1"``)."""
    node: Mapping[str, Any] = schema
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def contract_mismatches(cls: type, section: Mapping[str, Any], prefix: str = "") -> list[str]:
    """List differences between a stage dataclass and its schema section (empty = they agree).

    Used by the contract test: every schema key is a field and every field is a schema key,
    recursively for nested sections.
    """
    problems: list[str] = []
    props = section.get("properties", {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for name in sorted(set(props) - set(fields)):
        problems.append(f"{prefix}{name}: in schema, missing in {cls.__name__}")
    for name in sorted(set(fields) - set(props)):
        problems.append(f"{prefix}{name}: in {cls.__name__}, missing in schema")
    for name in sorted(set(props) & set(fields)):
        hint = hints[name]
        candidates = [hint, *typing.get_args(hint)]
        nested = next((c for c in candidates if dataclasses.is_dataclass(c)), None)
        if nested is not None:
            problems += contract_mismatches(nested, props[name], f"{prefix}{name}.")
        elif props[name].get("type") == "object" and props[name].get("properties"):
            problems.append(f"{prefix}{name}: object in schema, not a dataclass in {cls.__name__}")
    return problems


def canonical(obj: Any) -> Any:
    """Return ``obj`` with every mapping's keys sorted, recursively.

    Snakemake compares ``params`` by their representation, so two equal configs whose keys were
    merged in different orders must look the same (else every job would rerun).
    """
    if isinstance(obj, Mapping):
        return {key: canonical(obj[key]) for key in sorted(obj)}
    if isinstance(obj, list | tuple):
        return [canonical(item) for item in obj]
    return obj


def stable_hash(obj: Any, length: int = 12) -> str:
    """Hash a JSON-serialisable object independently of key order (for config hashes)."""

    def default(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)  # type: ignore[arg-type]
        if isinstance(value, types.MappingProxyType):
            return dict(value)
        if isinstance(value, Path):
            return str(value)
        raise TypeError(f"cannot hash {type(value).__name__}")

    text = json.dumps(obj, sort_keys=True, default=default, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
