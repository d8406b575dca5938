"""`mosaicflow videos`: list the videos (ids, roles, paths) the workflow would run on."""

from __future__ import annotations

import argparse
from pathlib import Path


def _list_videos(args: argparse.Namespace) -> int:
    from mosaicflow.config import validate_config
    from mosaicflow.io import load_yaml
    from mosaicflow.plan.run import world_specs
    from mosaicflow.plan.sources import source_videos

    config: dict = {}
    for path in args.configfile:
        config.update(load_yaml(Path(path).read_text(encoding="utf-8")) or {})
    validate_config(config)
    for video in source_videos(config["source"], world_specs(config)):
        print(f"{video.id}\t{video.role}\t{video.path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``videos`` subcommand."""
    parser = subparsers.add_parser(
        "videos",
        help="list the source videos with their stable ids and roles",
        description="Print id, role and path of every video the workflow would process.",
    )
    parser.add_argument(
        "--configfile", nargs="+", default=["config/config.yaml"], help="config files, in order"
    )
    parser.set_defaults(func=_list_videos)
