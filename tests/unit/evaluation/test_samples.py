"""Side-by-side sample video and still grid."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from mosaicflow.evaluation.samples import (
    HEADER,
    densest_window,
    read_samples,
    spread,
    write_grid,
    write_side_by_side,
)
from tests.unit.evaluation.conftest import FPS, HEIGHT, WIDTH


def test_densest_window_and_spread():
    flags = [False, True, False, True, True, True, False, False]
    assert densest_window(flags, 3) == 3
    assert densest_window(flags, 20) == 0
    with pytest.raises(ValueError, match=r"window length must be >= 1, got 0"):
        densest_window(flags, 0)
    items = [("a", i) for i in range(10)]
    assert spread(items, 3) == [("a", 0), ("a", 4), ("a", 9)]
    assert spread(items[:2], 5) == items[:2]
    assert spread([], 3) == [] and spread(items, 0) == []


def test_side_by_side_video_has_the_window_and_three_panels(synthetic, tmp_path):
    out = tmp_path / "sbs.mp4"
    written = write_side_by_side(
        synthetic.mosaic, synthetic.perfect, synthetic.original, out, 2, 4, FPS
    )
    assert written == 4
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert float(stream.average_rate) == pytest.approx(FPS)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 4
    assert frames[0].shape == (HEIGHT + HEADER, 3 * WIDTH, 3)
    # the restored panel (perfect) and the truth panel match
    restored, truth = frames[1][HEADER:, WIDTH : 2 * WIDTH], frames[1][HEADER:, 2 * WIDTH :]
    assert np.abs(restored.astype(int) - truth.astype(int)).mean() < 3
    # a window past the end writes what there is; an empty one fails naming the file
    assert (
        write_side_by_side(
            synthetic.mosaic,
            synthetic.perfect,
            synthetic.original,
            tmp_path / "end.mp4",
            6,
            10,
            FPS,
        )
        == 2
    )
    with pytest.raises(ValueError, match="no frame"):
        write_side_by_side(
            synthetic.mosaic,
            synthetic.perfect,
            synthetic.original,
            tmp_path / "none.mp4",
            50,
            4,
            FPS,
        )
    assert not (tmp_path / "none.mp4").exists()


def test_grid_has_one_labelled_row_per_sample(synthetic, tmp_path):
    sources = {"v": (synthetic.mosaic, synthetic.identity, synthetic.original)}
    rows = read_samples([("v", 3), ("v", 2)], sources)
    assert [r.frame for r in rows] == [2, 3]
    out = write_grid(rows, tmp_path / "grid.png")
    image = cv2.imread(str(out))
    assert image.shape == (2 * (HEIGHT + HEADER + 2), 3 * WIDTH, 3)
    assert image[:HEADER].max() > 0  # the label is drawn
    with pytest.raises(ValueError, match="no sample"):
        write_grid([], tmp_path / "empty.png")
