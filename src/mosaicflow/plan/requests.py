"""What a job asks a cluster scheduler for: memory, time and partition, per rule.

The rules carry their requests themselves (``resources:``), so that a command-line
``--set-resources rule:key=value`` changes that one value (a profile's ``set-resources`` block
would be replaced whole by it). Memory and time grow with the attempt, up to
:data:`GROWTH_CAP` times the first request, so a job killed for either gets more on its next try
without asking more than a partition allows. A training that resumes from its checkpoint
(:data:`RESUMABLE_TRAININGS`) asks for the same stretch of time on every attempt instead, and is
resubmitted up to :data:`TRAINING_RETRIES` times: a long training runs as several stretches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

#: The rules whose training resumes from its last checkpoint when it is run again.
RESUMABLE_TRAININGS = ("train_model", "train_restoration_stage1", "train_restoration_stage2")
#: The largest multiple of the first request a retried job asks for.
GROWTH_CAP = 3
#: Submissions of a resumable training after the first (each resumes from its checkpoint).
TRAINING_RETRIES = 10
#: Minutes of one stretch of a resumable training, unless the environment says otherwise.
TRAINING_MINUTES = 1440
TRAINING_MINUTES_VAR = "MOSAICFLOW_SLURM_TRAINING_MINUTES"
PARTITION_VAR = "MOSAICFLOW_SLURM_PARTITION"
GPU_PARTITION_VAR = "MOSAICFLOW_SLURM_GPU_PARTITION"


def growing(first: int) -> Callable[[Any, int], int]:
    """A request of ``first`` (MB or minutes) on the first attempt, ``attempt`` times that on
    the next ones, at most :data:`GROWTH_CAP` times."""
    if first <= 0:
        raise ValueError(f"a request must be positive, got {first}")

    def request(wildcards: Any, attempt: int) -> int:
        return first * min(attempt, GROWTH_CAP)

    return request


def training_minutes(environ: Mapping[str, str] | None = None) -> int:
    """Minutes of one stretch of a resumable training: ``MOSAICFLOW_SLURM_TRAINING_MINUTES``
    (at most the partition's time limit) or :data:`TRAINING_MINUTES`.

    Raises:
        ValueError: a value that is not a positive whole number (names the variable).
    """
    environ = os.environ if environ is None else environ
    text = environ.get(TRAINING_MINUTES_VAR, "").strip()
    if not text:
        return TRAINING_MINUTES
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{TRAINING_MINUTES_VAR}={text!r}: a positive whole number of minutes")
    return int(text)


def stretch(wildcards: Any, attempt: int) -> int:
    """The time request of a resumable training: the same stretch on every attempt."""
    return training_minutes()


def partition(claims_gpu: bool, environ: Mapping[str, str] | None = None) -> str:
    """The partition of a job: for one that claims a GPU ``MOSAICFLOW_SLURM_GPU_PARTITION``,
    else ``MOSAICFLOW_SLURM_PARTITION``, else the cluster's default (empty)."""
    environ = os.environ if environ is None else environ
    common = environ.get(PARTITION_VAR, "")
    return (environ.get(GPU_PARTITION_VAR) or common) if claims_gpu else common


def set_training_retries(rules: Mapping[str, Any], local: bool) -> int:
    """Give the :data:`RESUMABLE_TRAININGS` among ``rules`` (name -> Snakemake rule)
    :data:`TRAINING_RETRIES` retries in a cluster run; on this machine, where a failure is no
    time limit to resume past, they keep the run's ``--retries``. Called once the executor is
    known (Snakemake's ``onstart``). Returns the number of rules changed."""
    if local:
        return 0
    changed = 0
    for name in RESUMABLE_TRAININGS:
        if name in rules:
            rules[name].restart_times = TRAINING_RETRIES
            changed += 1
    return changed
