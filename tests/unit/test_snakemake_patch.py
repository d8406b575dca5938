"""At most one pending re-evaluation timer per Snakemake scheduler (mosaicflow.snakemake_patch)."""

from __future__ import annotations

import inspect
import re
import textwrap
import threading
import time

from snakemake.scheduling import job_scheduler as job_scheduler_module
from snakemake.scheduling.job_scheduler import JobScheduler

from mosaicflow import snakemake_patch as scheduler


def bare_scheduler() -> JobScheduler:
    """A JobScheduler with only the semaphore its re-evaluation releases."""
    job_scheduler = JobScheduler.__new__(JobScheduler)
    job_scheduler._open_jobs = threading.Semaphore(0)
    return job_scheduler


def wakeups(job_scheduler: JobScheduler, wait_s: float) -> int:
    """How many times the scheduler's loop was woken within ``wait_s`` seconds."""
    count, deadline = 0, time.monotonic() + wait_s
    while job_scheduler._open_jobs.acquire(timeout=max(0.0, deadline - time.monotonic())):
        count += 1
    return count


def test_many_passes_arm_one_wakeup():
    assert scheduler.install() and scheduler.install()  # idempotent
    job_scheduler = bare_scheduler()
    for _ in range(50):  # 50 passes while jobs run, e.g. woken by 50 finished jobs
        job_scheduler._schedule_reevalutation(0.05)
    assert wakeups(job_scheduler, 0.5) == 1
    # the woken pass arms the next one, as the rate limiter needs
    job_scheduler._schedule_reevalutation(0.05)
    assert wakeups(job_scheduler, 0.5) == 1


def test_each_scheduler_keeps_its_own_wakeup():
    scheduler.install()
    first, second = bare_scheduler(), bare_scheduler()
    first._schedule_reevalutation(0.05)
    second._schedule_reevalutation(0.05)
    assert wakeups(first, 0.5) == 1 and wakeups(second, 0.5) == 1


def upstream_reevaluation():
    """Snakemake's own ``_schedule_reevalutation``, compiled from its module's source."""
    source = inspect.getsource(job_scheduler_module)
    match = re.search(r"\n    def _schedule_reevalutation\(.*?\n(?=\n    def )", source, re.S)
    assert match, "Snakemake changed its re-evaluation: check whether the patch is still needed"
    namespace = {"threading": threading}
    exec(textwrap.dedent(match.group(0)), namespace)  # the library's own code
    return namespace["_schedule_reevalutation"]


def test_upstream_arms_a_timer_per_pass():
    # what the patch is for: upstream, every pass arms one more timer, and each re-arms itself
    job_scheduler = bare_scheduler()
    for _ in range(5):
        upstream_reevaluation()(job_scheduler, 0.05)
    assert wakeups(job_scheduler, 0.5) == 5
