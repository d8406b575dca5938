"""Argument types the ``mosaicflow`` subcommands share."""

from __future__ import annotations

import argparse

#: More CPU threads than any machine runs one process with; OpenMP fails to start far above it.
MAX_THREADS = 1024


def thread_count(text: str) -> int:
    """A ``--threads`` value: a whole number from 1 to :data:`MAX_THREADS`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"{value}: from 1 to {MAX_THREADS} threads")
    return value
