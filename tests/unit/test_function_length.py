"""No function of the package or of a rule script runs over 100 lines: a longer one is split
into steps that can be named and read on their own."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 100


def long_functions(files: list[Path], root: Path = ROOT) -> list[str]:
    """``path:function (lines)`` of every function over :data:`MAX_LINES` lines (paths
    relative to ``root``)."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    found.append(f"{path.relative_to(root)}:{node.name} ({lines})")
    return found


def test_no_function_is_over_100_lines():
    files = sorted((ROOT / "src").rglob("*.py")) + sorted((ROOT / "workflow").rglob("*.py"))
    assert len(files) > 100
    assert long_functions(files) == []


def test_a_long_function_is_found(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    path = tmp_path / "example.py"
    path.write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n")
    assert long_functions([path], tmp_path) == [f"example.py:long ({MAX_LINES + 1})"]
