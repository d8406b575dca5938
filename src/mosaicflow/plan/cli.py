"""`mosaicflow videos`: list the videos (ids, roles, paths) the workflow would run on."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    """Update ``base`` with ``update`` section by section, as Snakemake's ``--configfile``."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def read_configs(paths: list[str]) -> dict[str, Any]:
    """The config of ``paths`` merged in order (not yet validated).

    Raises:
        ValueError: naming the file that is not a YAML mapping.
    """
    import yaml

    from mosaicflow.io import load_yaml

    config: dict[str, Any] = {}
    for path in paths:
        try:
            loaded = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
            raise ValueError(f"{path}: cannot read the config ({err})") from err
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config file holds sections (a YAML mapping), not a "
                             f"{type(loaded).__name__}")  # fmt: skip
        _merge(config, loaded)
    return config


def _list_videos(args: argparse.Namespace) -> int:
    from mosaicflow.config import validate_config
    from mosaicflow.plan.run import Run
    from mosaicflow.plan.whole_numbers import check_whole_numbers

    config = read_configs(args.configfile)
    validate_config(config)
    check_whole_numbers(config)
    for video in Run.from_config(config).videos.values():
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
