"""The ``mosaicflow`` command: helpers users call outside Snakemake.

Subcommands live next to the code they drive: each ``mosaicflow.<area>.cli`` module exposes
``register(subparsers)``; this module only collects them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from mosaicflow import __version__
from mosaicflow.process import skip_final_collection

#: Modules that contribute subcommands (each has ``register(subparsers)``); every
#: ``mosaicflow/<area>/cli.py`` is listed (``tests/unit/test_cli.py`` checks it).
SUBCOMMAND_MODULES = (
    "mosaicflow.plan.cli",
    "mosaicflow.video.cli",
    "mosaicflow.formats.cli",
    "mosaicflow.yolo.cli",
    "mosaicflow.inference.cli",
    "mosaicflow.evaluation.cli",
    "mosaicflow.inspection.cli",
    "mosaicflow.curate.cli",
    "mosaicflow.quality.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with the subcommands of :data:`SUBCOMMAND_MODULES`."""
    parser = argparse.ArgumentParser(
        prog="mosaicflow",
        description="Helpers of the mosaicflow workflow (the workflow itself runs with snakemake).",
    )
    parser.add_argument("--version", action="version", version=f"mosaicflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mosaicflow`` command; returns the exit status."""
    skip_final_collection()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:
        print(f"mosaicflow {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
