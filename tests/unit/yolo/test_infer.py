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

from mosaicflow.yolo.infer import (
    COLUMNS,
    decode_rle,
    encode_rle,
    prefetch,
    result_rows,
    rows_frame,
)
from tests.unit.yolo.fakes import disc, fake_result


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


def _summary(path, video, instances):
    import json

    row = {"video": video, "version": 1, "frames": 10, "frames_with_regions": int(instances > 0),
           "instances": instances, "tracks": instances, "mean_score": 0.5, "coverage_mean": 0.1,
           "height": 48, "width": 64}  # fmt: skip
    path.write_text(json.dumps(row))
    return path


def test_no_region_in_any_video_stops_with_what_to_do(tmp_path):
    import json

    from mosaicflow.yolo.infer import RegionsNotFound, gather_summaries

    paths = [_summary(tmp_path / f"{v}.json", v, 0) for v in ("b", "a")]
    record = tmp_path / "train.json"
    record.write_text(json.dumps({"metrics": {"val": {"mask_map50": 0.0, "box_map50": 0.01}}}))
    out = tmp_path / "summary.tsv"
    no_region = r"found no region in any of the 2 videos \(20 frames at regions\.conf 0\.25;"
    with pytest.raises(RegionsNotFound, match=no_region) as err:
        gather_summaries(paths, out, model_record=record, conf=0.25)
    text = str(err.value)
    for words in ("found no region in any of the 2 videos", "20 frames at regions.conf 0.25",
                  "mask_map50 0.000", "regions.weights", "lower regions.conf",
                  "source.labelme_train", str(record)):  # fmt: skip
        assert words in text
    assert not out.exists()
    # nothing built from the regions (the datasets use the demo truth): only logged
    table = gather_summaries(paths, out, model_record=record, required=False)
    assert list(table["video"]) == ["a", "b"] and out.is_file()
    # one video with a region is enough
    paths[0] = _summary(paths[0], "b", 3)
    assert gather_summaries(paths, out, model_record=record)["instances"].sum() == 3


def test_no_region_names_the_segmenters_training_budget(tmp_path):
    import json

    from mosaicflow.yolo.infer import RegionsNotFound, gather_summaries

    paths = [_summary(tmp_path / f"{v}.json", v, 0) for v in ("a", "b")]
    record = tmp_path / "train.json"
    training = {"source": "trained", "steps": 6, "images_seen": 72, "train_images": 12,
                "train_instances": 14, "epochs_planned": 6, "epochs_from": "epochs",
                "min_steps": 0}  # fmt: skip
    record.write_text(json.dumps({"metrics": {"val": {"mask_map50": 0.08}}, "training": training}))
    budget = r"It trained 6 optimizer steps on 12 training images \(14 labelled instances;"
    with pytest.raises(RegionsNotFound, match=budget) as err:
        gather_summaries(paths, tmp_path / "summary.tsv", model_record=record, conf=0.25)
    text = str(err.value)
    for words in ("It trained 6 optimizer steps on 12 training images (14 labelled instances; "
                  "6 epochs, set by epochs)", "regions.min_steps: 500, was 0",
                  "source.labelme_train", "mask_map50 0.080", "lower regions.conf"):  # fmt: skip
        assert words in text
    training.update(steps=400, min_steps=200, epochs_planned=400, epochs_from="min_steps")
    record.write_text(json.dumps({"metrics": {}, "training": training}))
    with pytest.raises(RegionsNotFound, match=r"regions\.min_steps: 800, was 200"):
        gather_summaries(paths, tmp_path / "summary.tsv", model_record=record)
    record.write_text(json.dumps({"metrics": {}, "training": {"source": "weights"}}))
    with pytest.raises(RegionsNotFound, match=r"given \(regions\.weights\), not trained here"):
        gather_summaries(paths, tmp_path / "summary.tsv", model_record=record)


def test_tracking_a_video_logs_its_progress_in_frames(tmp_path, monkeypatch, caplog):
    """A long video's region job says how far it is (here the closing line of 7 frames)."""
    import logging
    import types

    from mosaicflow.yolo import adapter, infer

    class Model:
        def track(self, images, **kwargs):
            return [fake_result([], []) for _ in images]

    def batches(video, frames, size):
        image = np.zeros((8, 12, 3), np.uint8)
        numbers = list(frames)
        for start in range(0, len(numbers), size):
            yield [(n, image) for n in numbers[start : start + size]]

    monkeypatch.setattr(
        adapter, "open_model", lambda *a, **k: types.SimpleNamespace(model=Model(), device="cpu")
    )
    monkeypatch.setattr(infer, "frame_batches", batches)
    cfg = types.SimpleNamespace(imgsz=64, conf=0.25, iou=0.5, tracker="bytetrack.yaml",
                                half=False, infer_batch=3)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="mosaicflow.yolo.infer"):
        table, height, width = infer.track_video(
            tmp_path / "clip.mp4", tmp_path / "v.mp4", range(7), float, cfg=cfg, device="cpu",
            threads=1, config_dir=tmp_path / "cfg",
        )  # fmt: skip
    assert (height, width) == (8, 12) and set(table["frame"]) == set(range(7))
    lines = [r.getMessage() for r in caplog.records if "regions:" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("v.mp4: regions: 7/7 frames ("), lines
