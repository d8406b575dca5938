"""`mosaicflow metrics-diff`: what moved between two metrics files."""

from __future__ import annotations

import argparse


def _metrics_diff(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from mosaicflow.evaluation.metrics_diff import format_table, metrics_diff

    if args.precision < 1:
        raise ValueError(f"--precision {args.precision}: at least 1 significant digit")
    rows = metrics_diff(args.old, args.new, show_all=args.all)
    if args.json:
        print(json.dumps([_json_safe(asdict(row)) for row in rows], indent=2, default=str))
    elif rows:
        print(format_table(rows, precision=args.precision))
    else:
        print("no metric changed")
    return 0


def _json_safe(row: dict) -> dict:
    """``row`` with NaN and infinite numbers as null: JSON has no such numbers."""
    import math

    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in row.items()
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``metrics-diff`` subcommand."""
    diff = subparsers.add_parser(
        "metrics-diff",
        help="show what moved between two metrics files",
        description=(
            "Compare two metrics JSON files (e.g. results/metrics.json of two runs) key by key "
            "(nested keys flattened with dots): old, new, change and change in percent, like "
            "`dvc metrics diff`. Only keys that differ are listed unless --all is given."
        ),
    )
    diff.add_argument("old", help="the earlier metrics file")
    diff.add_argument("new", help="the later metrics file")
    diff.add_argument("--all", action="store_true", help="list unchanged keys too")
    diff.add_argument("--json", action="store_true", help="print the rows as JSON")
    diff.add_argument(
        "--precision", type=int, default=5, help="significant digits of numbers (default 5)"
    )
    diff.set_defaults(func=_metrics_diff)
