"""`mosaicflow videos`: list the videos (ids, roles, paths) the workflow would run on;
`mosaicflow metrics-diff`: what moved between two metrics files."""

from __future__ import annotations

import argparse
from pathlib import Path


def _list_videos(args: argparse.Namespace) -> int:
    from mosaicflow.config import validate_config
    from mosaicflow.io import load_yaml
    from mosaicflow.workflow import targets
    from mosaicflow.workflow.sources import source_videos

    config: dict = {}
    for path in args.configfile:
        config.update(load_yaml(Path(path).read_text(encoding="utf-8")) or {})
    validate_config(config)
    for video in source_videos(config["source"], targets.world_specs(config)):
        print(f"{video.id}\t{video.role}\t{video.path}")
    return 0


def _metrics_diff(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from mosaicflow.workflow.metrics_diff import format_table, metrics_diff

    rows = metrics_diff(args.old, args.new, show_all=args.all)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2, default=str))
    elif rows:
        print(format_table(rows, precision=args.precision))
    else:
        print("no metric changed")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``videos`` and ``metrics-diff`` subcommands."""
    parser = subparsers.add_parser(
        "videos",
        help="list the source videos with their stable ids and roles",
        description="Print id, role and path of every video the workflow would process.",
    )
    parser.add_argument(
        "--configfile", nargs="+", default=["config/config.yaml"], help="config files, in order"
    )
    parser.set_defaults(func=_list_videos)

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
