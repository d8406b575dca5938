"""Progress as log lines: at most one a minute, with the count, the rate and the time left."""

from __future__ import annotations

import logging

from mosaicflow.progress import ProgressLine, duration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_a_minute_with_rate_and_time_left(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO)
    line = ProgressLine(logging.getLogger("t"), "stage 1", 1000, clock=clock, start=100)
    for done in range(101, 1001):
        clock.now += 0.5  # 2 iterations a second
        line.at(done, "loss l1 0.1234")
    line.close("loss l1 0.1000")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 8  # one every 60 s of 450 s, and the last
    assert (
        lines[0] == "stage 1: 220/1000 iterations (2/s, 6m30s left, 1m00s so far); loss l1 0.1234"
    )
    assert lines[-1] == "stage 1: 1000/1000 iterations (2/s, 7m30s so far); loss l1 0.1000"
    line.close()
    assert len(caplog.records) == 8  # closed once


def test_tqdm_s_interface_without_a_total(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO)
    with ProgressLine(logging.getLogger("t"), "v.mp4", None, unit="frames", clock=clock) as line:
        for _ in range(300):
            clock.now += 0.25
            line.update(1)
    assert [r.getMessage() for r in caplog.records] == [
        "v.mp4: 240 frames (4/s, 1m00s so far)",
        "v.mp4: 300 frames (4/s, 1m15s so far)",
    ]


def test_nothing_done_logs_nothing(caplog):
    caplog.set_level(logging.INFO)
    ProgressLine(logging.getLogger("t"), "x", 10).close()
    assert caplog.records == []


def test_durations():
    assert [duration(s) for s in (0, 42.4, 185, 3720, 90000)] == [
        "0s", "42s", "3m05s", "1h02m", "25h00m"
    ]  # fmt: skip
