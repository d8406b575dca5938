"""Keep Snakemake's scheduling loop from waking itself ever more often during a run.

Snakemake 9 (seen up to 9.27.1) arms a 1-s ``threading.Timer`` at the end of every pass of its
scheduling loop while jobs run, so that a pass held back by the job-rate limiter
(``--max-jobs-per-timespan``, default 100/1s) is retried. A timer wakes the loop for one pass,
which arms the next timer; but every finished job wakes the loop too, and that pass arms one more
timer chain. After n finished jobs the loop runs about n times a second, each pass walking the
whole DAG. On the demo (2-core Zen 1 EPYC) the Snakemake process itself used 6 CPU minutes in the
first 22 minutes of the run (31 % of a core, taken from the training jobs) and had started
155,000 timer threads; a cluster run with thousands of jobs would spend a core on it.

:func:`install` lets each scheduler keep at most one pending re-evaluation, which is all the rate
limiter needs: the pass that timer wakes arms the next one while jobs still run.
"""

from __future__ import annotations

import threading
from typing import Any


def install() -> bool:
    """Patch ``JobScheduler._schedule_reevalutation`` (idempotent); False if there is none."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:  # another Snakemake layout: leave it alone
        return False
    if not hasattr(JobScheduler, "_schedule_reevalutation"):
        return False
    JobScheduler._schedule_reevalutation = _single_reevaluation  # type: ignore[method-assign]
    return True


_lock = threading.Lock()


def _single_reevaluation(scheduler: Any, delay: float) -> None:
    """Wake ``scheduler``'s loop after ``delay`` seconds unless a wake-up is already pending."""
    with _lock:
        if getattr(scheduler, "_mosaicflow_reevaluation_pending", False):
            return
        scheduler._mosaicflow_reevaluation_pending = True

    def wake() -> None:
        with _lock:
            scheduler._mosaicflow_reevaluation_pending = False
        scheduler._open_jobs.release()

    threading.Timer(delay, wake).start()
