"""The stage runner: order kept, threads or not; a failing stage stops the run and is named."""

from __future__ import annotations

import threading
import time

import pytest

from mosaicflow.inference.stages import Stage, StageError, run_stages


def where(item: int) -> str:
    return f"frame {item}"


def chain(seen: list[int], jitter: bool = False) -> list[Stage]:
    def double(item: int):
        if jitter and item % 3 == 0:
            time.sleep(0.002)
        yield item
        yield item + 1000

    def batch_of_two():
        held: list[int] = []

        def step(item: int):
            held.append(item)
            if len(held) == 2:
                yield sum(held)
                held.clear()

        def finish():
            yield from held

        return step, finish

    step, finish = batch_of_two()
    return [
        Stage("double", double, queue_size=1),
        Stage("pairs", step, finish, queue_size=2),
        Stage("collect", lambda item: seen.append(item) or ()),
    ]


@pytest.mark.parametrize("threaded", [False, True])
def test_items_keep_their_order_through_every_stage(threaded):
    seen: list[int] = []
    busy = run_stages(range(20), chain(seen, jitter=True), threaded=threaded, where=where)
    assert seen == [2 * i + 1000 for i in range(20)]
    assert set(busy) == {"decode", "double", "pairs", "collect"}
    assert all(seconds >= 0 for seconds in busy.values())


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failing_stage_stops_the_run_and_is_named_with_its_frame(threaded):
    seen: list[int] = []

    def fragile(item: int):
        if item == 7:
            raise ValueError("bad frame")
        yield item

    stages = [Stage("fragile", fragile), Stage("collect", lambda item: seen.append(item) or ())]
    with pytest.raises(StageError, match=r"stage 'fragile' failed at frame 7: ValueError") as info:
        run_stages(iter(range(10_000)), stages, threaded=threaded, where=where)
    assert info.value.stage == "fragile" and info.value.where == "frame 7"
    assert isinstance(info.value.__cause__, ValueError)
    assert seen == list(range(len(seen))) and len(seen) <= 7  # nothing after the failure
    assert not any(t.name.startswith("stage-") for t in threading.enumerate())


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failing_source_is_named_after_the_last_good_item(threaded):
    def source():
        yield 0
        yield 1
        raise OSError("truncated")

    with pytest.raises(StageError, match=r"'decode' failed at the frame after frame 1: OSError"):
        run_stages(source(), [Stage("keep", lambda item: [item])], threaded=threaded, where=where)


def test_a_stage_blocked_on_a_full_queue_leaves_when_a_later_one_fails():
    fed: list[int] = []

    def feed():
        for item in range(1000):  # far more than the queues hold
            fed.append(item)
            yield item

    def fails_at_once(item: int):
        raise RuntimeError("broken encoder")

    stages = [Stage("pass", lambda item: [item], queue_size=1), Stage("encode", fails_at_once)]
    with pytest.raises(StageError, match="'encode' failed at frame 0"):
        run_stages(feed(), stages, threaded=True, where=where)
    assert len(fed) < 1000  # the source stopped instead of decoding on
    assert not any(t.name.startswith("stage-") for t in threading.enumerate())


@pytest.mark.parametrize("threaded", [False, True])
def test_sys_exit_in_a_stage_is_its_failure_and_stops_every_thread(threaded):
    def exits(item: int):
        raise SystemExit(3)

    with pytest.raises(StageError, match=r"'quits' failed at frame 0: SystemExit: 3"):
        run_stages(iter(range(10_000)), [Stage("quits", exits)], threaded=threaded, where=where)
    assert not any(t.name.startswith("stage-") for t in threading.enumerate())


def test_an_interrupt_raised_in_a_stage_thread_stops_the_run_as_an_interrupt():
    def interrupted(item: int):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stages(iter(range(10_000)), [Stage("s", interrupted)], threaded=True, where=where)
    assert not any(t.name.startswith("stage-") for t in threading.enumerate())
