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


def runnable_device(name: str) -> str:
    """The ``--device`` a command runs on: ``auto`` where the GPU it would pick is one this torch
    build has no kernels for (older than it supports) is the CPU, with a warning.

    Raises:
        ValueError: ``cuda`` or ``cuda:N`` naming such a GPU (says which and why).
    """
    import re

    from mosaicflow.plan.gpu import cuda_gpu, cuda_visible, torch_arch_list, unsupported_gpu

    asked = re.fullmatch(r"auto|cuda(?::(\d+))?", name)
    if asked is None or not cuda_visible():
        return name  # another name, or no GPU driver: devices.py names the mistake
    import torch

    index = int(asked.group(1) or 0)
    if index >= torch.cuda.device_count():
        return name
    try:
        found = cuda_gpu(index)
    except RuntimeError:  # a driver torch cannot talk to: the command's own use says why
        return name
    problem = unsupported_gpu(found, torch_arch_list())
    if problem is None:
        return name
    if name == "auto":
        logging.getLogger(__name__).warning("--device auto: cuda:%d is %s; running on the CPU",
                                            index, problem)  # fmt: skip
        return "cpu"
    raise ValueError(f"--device {name}: {problem}; use --device cpu")


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
        if getattr(args, "device", None) is not None:
            args.device = runnable_device(args.device)
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:
        print(f"mosaicflow {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
