"""A chain of stages over a stream of items: one thread per stage with bounded queues between
them, or every stage in the caller's thread (the same items in the same order, one at a time).

A stage takes one item and gives any number of items to the next stage; ``finish`` gives what
it still holds when its input ends. Items keep their order through each stage. Threads suit the
restore pipeline: its heavy steps (decoding, OpenCV, torch, the encoder) release the GIL, and
frames pass between stages without being copied. When a stage raises, the run stops: the other
stages leave their queues, and :func:`run_stages` raises :class:`StageError` naming the stage
and the frames of the item it was working on. Each stage's busy time (spent in its own code, not
waiting on a queue) is returned: in a threaded run the busiest stage bounds the throughput.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

#: How often a thread blocked on a queue looks whether the run was stopped (seconds).
POLL_S = 0.05
#: ``where`` of the items a stage gives from ``finish``.
AT_END = "the end of the video"


def _nothing() -> Iterable[Any]:
    return ()


@dataclass(frozen=True)
class Stage:
    """One step of the chain.

    Attributes:
        name: named in errors and in the busy times.
        step: one item in, the items for the next stage out (a generator is fine).
        finish: called once after the last item; the items it still holds.
        queue_size: most items waiting in front of it (threaded runs).
    """

    name: str
    step: Callable[[Any], Iterable[Any]]
    finish: Callable[[], Iterable[Any]] = _nothing
    queue_size: int = 4


class StageError(RuntimeError):
    """A stage failed; the original exception is ``__cause__``.

    Attributes:
        stage: the stage's name.
        where: the frames of the item it was working on (``frame 12``, ``frames 8-15``).
    """

    def __init__(self, stage: str, where: str, cause: BaseException) -> None:
        super().__init__(f"stage {stage!r} failed at {where}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.where = where
        self.__cause__ = cause


class Stopped(Exception):
    """The run was stopped (another stage failed): a stage waiting on something other than its
    queues raises it to leave quietly."""


_DONE = object()


class _Outputs:
    """Iterates a stage's outputs (``call()``), timing the stage's own work and naming its
    failures."""

    def __init__(
        self, name: str, call: Callable[[], Iterable[Any]], where: str, busy: dict[str, float]
    ) -> None:
        self.name, self.where, self.busy = name, where, busy
        self.call = call
        self.items: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        while True:
            start = time.perf_counter()
            try:
                if self.items is None:
                    self.items = iter(self.call())
                out = next(self.items)
            except StopIteration:
                return
            except (StageError, Stopped):
                raise
            except (Exception, SystemExit) as err:  # sys.exit in a stage's code is its failure
                raise StageError(self.name, self.where, err) from err
            finally:
                self.busy[self.name] += time.perf_counter() - start
            yield out


def run_stages(
    source: Iterable[Any],
    stages: Sequence[Stage],
    *,
    threaded: bool,
    where: Callable[[Any], str],
    source_name: str = "decode",
    stop: threading.Event | None = None,
) -> dict[str, float]:
    """Feed every item of ``source`` through ``stages`` (the last stage's output is dropped).

    Args:
        source: the items (iterated in its own thread when ``threaded``).
        stages: the chain, in order.
        threaded: one thread per stage and one for the source; else all in this thread.
        where: the frames an item covers, for errors (``frame 12``).
        source_name: the source's name in errors and busy times.
        stop: set when a stage fails (threaded); a stage that waits on something other than
            its queues watches it and raises :class:`Stopped`.

    Returns:
        Seconds each stage (and the source) spent working, by name.

    Raises:
        StageError: the first stage (or the source) that raised, naming it and the frames.
    """
    busy = {name: 0.0 for name in (source_name, *(stage.name for stage in stages))}
    if threaded:
        _run_threaded(source, stages, where, source_name, stop or threading.Event(), busy)
    else:
        _run_serial(source, stages, where, source_name, busy)
    return busy


def _source_where(last: Any, where: Callable[[Any], str]) -> str:
    return "the first frame" if last is None else f"the frame after {where(last)}"


def _source_items(
    source: Iterable[Any], where: Callable[[Any], str], source_name: str, busy: dict[str, float]
) -> Iterator[Any]:
    """The source's items, timed as its stage; a failure is placed after the last item given."""
    last: Any = None
    items = _Outputs(source_name, lambda: source, "", busy)
    generator = iter(items)
    while True:
        items.where = _source_where(last, where)
        try:
            item = next(generator)
        except StopIteration:
            return
        yield item
        last = item


def _run_serial(
    source: Iterable[Any],
    stages: Sequence[Stage],
    where: Callable[[Any], str],
    source_name: str,
    busy: dict[str, float],
) -> None:
    def push(index: int, item: Any) -> None:
        if index < len(stages):
            stage = stages[index]
            for out in _Outputs(stage.name, partial(stage.step, item), where(item), busy):
                push(index + 1, out)

    for item in _source_items(source, where, source_name, busy):
        push(0, item)
    for index, stage in enumerate(stages):
        for out in _Outputs(stage.name, stage.finish, AT_END, busy):
            push(index + 1, out)


def _run_threaded(
    source: Iterable[Any],
    stages: Sequence[Stage],
    where: Callable[[Any], str],
    source_name: str,
    stop: threading.Event,
    busy: dict[str, float],
) -> None:
    errors: list[BaseException] = []
    lock = threading.Lock()
    queues = [queue.Queue[Any](maxsize=max(1, stage.queue_size)) for stage in stages]

    def put(index: int, item: Any) -> None:
        while index < len(queues):
            if stop.is_set():
                raise Stopped
            try:
                queues[index].put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def get(index: int) -> Any:
        while True:
            if stop.is_set():
                raise Stopped
            try:
                return queues[index].get(timeout=POLL_S)
            except queue.Empty:
                continue

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Stopped:
                return
            except BaseException as err:  # a StageError, or a KeyboardInterrupt its code raised
                with lock:
                    errors.append(err)
                stop.set()

        return run

    def feed() -> None:
        for item in _source_items(source, where, source_name, busy):
            put(0, item)
        put(0, _DONE)

    def work(index: int) -> None:
        stage = stages[index]
        while True:
            item = get(index)
            if item is _DONE:
                for out in _Outputs(stage.name, stage.finish, AT_END, busy):
                    put(index + 1, out)
                put(index + 1, _DONE)
                return
            for out in _Outputs(stage.name, partial(stage.step, item), where(item), busy):
                put(index + 1, out)

    threads = [threading.Thread(target=guarded(feed), name=f"stage-{source_name}", daemon=True)]
    threads += [
        threading.Thread(target=guarded(lambda i=i: work(i)), name=f"stage-{s.name}", daemon=True)
        for i, s in enumerate(stages)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(POLL_S)
    except BaseException:
        stop.set()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0] from errors[0].__cause__ if isinstance(errors[0], StageError) else None
