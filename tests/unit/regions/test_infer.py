"""Region tables: RLE round trips, rows of results, prefetching that overlaps decoding."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mosaicflow.regions.infer import (
    COLUMNS,
    decode_rle,
    encode_rle,
    prefetch,
    result_rows,
    rows_frame,
)
from tests.unit.regions.fakes import disc, fake_result


@settings(max_examples=30, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_rle_round_trip(mask):
    assert np.array_equal(decode_rle(encode_rle(mask), *mask.shape), mask)


def test_rows_of_a_result_with_tracks():
    masks = [disc(48, 64, 20, 20, 8), disc(48, 64, 30, 45, 5)]
    rows = result_rows(7, 0.5, fake_result(masks, [0.9, 0.4], ids=[3, 4]))
    assert [r["track_id"] for r in rows] == [3, 4]
    assert [r["instance"] for r in rows] == [0, 1]
    for row, mask in zip(rows, masks, strict=True):
        assert row["area"] == mask.sum()
        assert np.array_equal(decode_rle(row["rle"], 48, 64), mask)
        assert (row["x0"], row["y0"]) == (np.nonzero(mask)[1].min(), np.nonzero(mask)[0].min())
    table = rows_frame(rows)
    assert dict(table.dtypes.astype(str)) == COLUMNS


def test_untracked_and_empty_frames():
    rows = result_rows(1, 0.1, fake_result([disc(16, 16, 8, 8, 3)], [0.3]))
    assert rows[0]["track_id"] == -1
    empty = result_rows(2, 0.2, fake_result([], []))
    assert len(empty) == 1 and empty[0]["instance"] == -1 and empty[0]["rle"] is None
    table = rows_frame(rows + empty)
    assert table["rle"].isna().tolist() == [False, True]


def test_prefetch_keeps_order_and_runs_ahead():
    produced = []

    def slow():
        for i in range(5):
            produced.append(i)
            yield i

    seen = []
    for item in prefetch(slow(), depth=2):
        time.sleep(0.01)
        seen.append(item)
    assert seen == list(range(5))


def test_prefetch_reraises_producer_errors():
    def broken():
        yield 1
        raise ValueError("video.mp4: frame 3: cannot decode")

    with pytest.raises(ValueError, match="frame 3"):
        list(prefetch(broken()))


def test_prefetch_stops_its_thread_when_abandoned():
    before = threading.active_count()
    gen = prefetch(iter(range(1000)), depth=1)
    assert next(gen) == 0
    gen.close()
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_box_is_the_mask_bounds_not_the_trackers_box():
    mask = disc(48, 64, 20, 30, 6)
    result = fake_result([mask], [0.8], ids=[1])
    result.boxes.xyxy += torch.tensor([3.5, -2.0, 4.0, 1.5])  # a Kalman-smoothed box, off by px
    given = result.boxes.xyxy.clone()
    (row,) = result_rows(0, 0.0, result)
    ys, xs = np.nonzero(mask)
    assert (row["x0"], row["y0"], row["x1"], row["y1"]) == (xs.min(), ys.min(), xs.max() + 1,
                                                            ys.max() + 1)  # fmt: skip
    assert torch.equal(result.boxes.xyxy, given)  # the model's result is left as it was
