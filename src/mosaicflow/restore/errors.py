"""The error of a restoration training run that cannot start, go on or resume."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """A training run that cannot start or resume (names the file or the setting)."""
