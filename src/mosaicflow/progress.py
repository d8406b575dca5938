"""Progress of a long step as log lines: done/total, rate and time left, about once a minute.

Under Snakemake, on a cluster or with stderr sent to a file, a terminal progress bar is either
hidden or written as thousands of carriage-return updates on one line. A :class:`ProgressLine`
writes an ordinary log line instead, at most every ``interval`` seconds and once at the end,
so a job's log shows how far it is at any time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

#: Seconds between two progress lines.
INTERVAL_S = 60.0


def duration(seconds: float) -> str:
    """``seconds`` as ``1h02m``, ``3m05s`` or ``42s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressLine:
    """Logs ``<what>: <done>/<total> <unit> (<rate>/s, <time> left)`` at most every
    ``interval`` seconds; :meth:`update` takes the count done so far, :meth:`close` logs the
    last line. Also usable where a tqdm bar is (``update(n)`` adds, as a context manager)."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        total: int | None,
        *,
        unit: str = "iterations",
        start: int = 0,
        interval: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.what, self.total, self.unit = logger, what, total, unit
        self.start = self.done = start
        self.interval, self.clock = interval, clock
        self.began = self.last = clock()
        self.closed = False

    def at(self, done: int, extra: str = "") -> None:
        """The count reached: logs a line when ``interval`` has passed since the last one."""
        self.done = done
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._log(now, extra)

    def update(self, n: int = 1) -> None:
        """``n`` more done (tqdm's interface)."""
        self.at(self.done + n)

    def close(self, extra: str = "") -> None:
        """The last line (once), with the whole step's rate."""
        if not self.closed:
            self.closed = True
            if self.done > self.start:
                self._log(self.clock(), extra)

    def _log(self, now: float, extra: str) -> None:
        elapsed = max(now - self.began, 1e-9)
        rate = (self.done - self.start) / elapsed
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        text = f"{self.what}: {count} {self.unit} ({rate:.3g}/s"
        if self.total and rate > 0 and self.done < self.total:
            text += f", {duration((self.total - self.done) / rate)} left"
        text += f", {duration(elapsed)} so far)"
        self.logger.info("%s%s", text, f"; {extra}" if extra else "")

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
