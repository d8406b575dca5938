"""Whole-number config keys given as decimals (``seed: 7.0``): refused, naming the key.

JSON Schema counts 7.0 as an integer, so validation passes it; the code then gets a float
where it counts (a random seed, epochs) and fails inside a job, or derives other seeds from
its text ("7.0" is not "7"). Checked when the workflow reads its config, beside validation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mosaicflow.config import ConfigError, load_schema


def _types(node: Mapping[str, Any]) -> set[str]:
    kind = node.get("type", ())
    return {kind} if isinstance(kind, str) else set(kind)


def fractional_integers(
    value: Any, node: Mapping[str, Any], key: str = ""
) -> Iterator[tuple[str, float]]:
    """``(dotted key, value)`` of every float under ``value`` where ``node`` (its schema)
    allows integers but not numbers."""
    if isinstance(value, float) and {"integer"} <= _types(node) and "number" not in _types(node):
        yield key, value
    if isinstance(value, Mapping):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        for name, item in value.items():
            child = properties.get(name, extra if isinstance(extra, Mapping) else None)
            if child is not None:
                yield from fractional_integers(item, child, f"{key}.{name}" if key else name)
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for number, item in enumerate(value):
            yield from fractional_integers(item, node["items"], f"{key}[{number}]")


def check_whole_numbers(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> None:
    """Refuse decimals in whole-number keys of a (validated) config.

    Raises:
        ConfigError: naming every such key and its value.
    """
    found = list(fractional_integers(config, schema or load_schema()))
    if found:
        raise ConfigError(
            "invalid configuration:\n  "
            + "\n  ".join(
                f"config key '{key}': {value!r} is not a whole number" for key, value in found
            )
        )
