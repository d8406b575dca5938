"""The mosaic detector of the demo run: quality on every frame of the mosaicked test videos and
``mosaicflow detect`` on a video pixelated by FFmpeg's own filters.

All figures come from the one session-scoped demo run (``demo_results``); nothing trains here.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from tests.helpers import world_frames

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

# Floors from measured runs of the demo detector (8 epochs from the YOLO base at 256 px, random
# blob mosaics, some clean targets beside the mosaics; docs/experiments/detector.md). Two runs on
# a 2-core AVX-512 Xeon (the second with lr0 0.0021 for a seed-like spread): test mask mAP50
# 0.921 and 0.927, frame recall 0.906 at the threshold 0.4, no mosaic-free test frame fired on,
# clean test frames 0.004 and 0.042, the FFmpeg box found. The floors leave room for other CPUs,
# whose kernels round differently and so train other weights. The false-positive bar of the
# detector's issue (at most 5 % of the frames without a mosaic) is held on every distinct test
# frame without one: the 240 frames of the test videos without mosaics, a frame that is also
# mosaic-free in the mosaicked copy counting as fired when either copy fired; one frame moves
# that rate by 0.004. The 70 mosaic-free frames of the mosaicked copy alone (one frame: 0.014)
# and the 240 clean frames alone keep looser ceilings (docs/benchmarks.md, quality figures).
MASK_MAP50_FLOOR = 0.85
FRAME_RECALL_FLOOR = 0.85
NEGATIVE_FP_RATE_CEILING = 0.05
FRAME_FP_RATE_CEILING = 0.15
FFMPEG_RECALL_FLOOR = 0.8
CLEAN_FP_RATE_CEILING = 0.1


def test_detector_meets_the_bars_on_every_test_frame(demo_results):
    metrics = json.loads((demo_results / "metrics" / "detector.json").read_text())
    test, threshold = metrics["test"], metrics["threshold"]
    # the threshold is chosen on the validation video, never below detector.conf
    assert threshold["source"] == "validation" and threshold["videos"] == ["world-val-00"]
    assert threshold["conf"] >= threshold["floor"] and test["conf"] == threshold["conf"]
    assert threshold["frame_fp_rate"] <= threshold["max_fp_rate"], threshold
    assert test["frames"] == world_frames() and test["instances"] > 0
    assert test["mask_map50"] >= MASK_MAP50_FLOOR, test
    assert test["frame_fp_rate"] <= FRAME_FP_RATE_CEILING, test
    assert test["negative_frames"] == test["clean_frames"] == world_frames()
    # pooled by frame: at least each copy's own false positives (the rate has 4 decimals, so
    # rounding rate x frames gives back the count)
    assert round(test["negative_frame_fp_rate"] * test["negative_frames"]) >= max(
        test["false_positive_frames"], test["clean_false_positive_frames"]
    )
    assert test["negative_frame_fp_rate"] <= NEGATIVE_FP_RATE_CEILING, test
    assert test["frames_without_mosaic"] > 0 and test["frame_recall"] >= FRAME_RECALL_FLOOR, test
    assert 0 <= test["box_map50_95"] <= test["box_map50"]
    # the same videos without any mosaic
    assert test["clean_frames"] == world_frames()


def test_detector_ignores_targets_without_mosaic(demo_results):
    test = json.loads((demo_results / "metrics" / "detector.json").read_text())["test"]
    assert test["clean_frame_fp_rate"] <= CLEAN_FP_RATE_CEILING, test


def test_detect_writes_masks_and_overlay_for_a_demo_test_video(demo_results, tmp_path):
    from mosaicflow.cli import main
    from mosaicflow.formats.truth import read_truth
    from mosaicflow.yolo.infer import COLUMNS

    video = demo_results / "detection_testset" / "world-test-00.mp4"
    model = demo_results / "models" / "detector" / "best.pt"
    assert main(["detect", str(video), "--model", str(model), "--out", str(tmp_path),
                 "--imgsz", "256", "--threads", "2"]) == 0  # fmt: skip
    table = pd.read_parquet(tmp_path / "mosaics.parquet")
    assert list(table.columns) == list(COLUMNS)
    truth = {i: bool(ids.any()) for i, ids in read_truth(video.with_suffix(".mkv"))}
    assert set(table["frame"]) == set(truth)
    found = set(table.loc[table["instance"] >= 0, "frame"])
    with_mosaic = {i for i, has in truth.items() if has}
    assert len(found & with_mosaic) >= FRAME_RECALL_FLOOR * len(with_mosaic)
    assert (tmp_path / "overlay.mp4").stat().st_size > 0


def _ffmpeg_pixelated(source, out, box, block):
    """Pixelate ``box`` (x, y, w, h) of every frame with FFmpeg's own filters: crop, scale down
    and up with nearest neighbour, overlay back (PyAV filter graph)."""
    import av

    x, y, w, h = box
    with av.open(str(source)) as inp, av.open(str(out), "w") as outp:
        istream = inp.streams.video[0]
        ostream = outp.add_stream("libx264", rate=Fraction(12))
        ostream.width, ostream.height, ostream.pix_fmt = istream.width, istream.height, "yuv420p"
        ostream.options = {"crf": "18", "threads": "1"}
        graph = av.filter.Graph()
        src = graph.add_buffer(template=istream)
        split = graph.add("split")
        crop = graph.add("crop", f"{w}:{h}:{x}:{y}")
        down = graph.add("scale", f"{w // block}:{h // block}:flags=neighbor")
        up = graph.add("scale", f"{w}:{h}:flags=neighbor")
        over = graph.add("overlay", f"{x}:{y}")
        sink = graph.add("buffersink")
        src.link_to(split)
        split.link_to(over, 0, 0)
        split.link_to(crop, 1, 0)
        crop.link_to(down)
        down.link_to(up)
        up.link_to(over, 0, 1)
        over.link_to(sink)
        graph.configure()
        count = 0
        for frame in inp.decode(istream):
            graph.push(frame)
            pixelated = graph.pull()
            pixelated.pts = count
            count += 1
            outp.mux(ostream.encode(pixelated.reformat(format="yuv420p")))
        outp.mux(ostream.encode(None))
    return count


def test_detector_finds_mosaics_pixelated_by_ffmpeg(demo_results, tmp_path):
    from mosaicflow.yolo.detect import detect_mosaics
    from mosaicflow.yolo.infer import decode_rle

    source = demo_results / "world" / "videos" / "world-test-01.mp4"
    box = (96, 48, 128, 96)
    video = tmp_path / "ffmpeg_pixelated.mp4"
    frames = _ffmpeg_pixelated(source, video, box, block=12)
    result = detect_mosaics(
        demo_results / "models" / "detector" / "best.pt", video, tmp_path / "out", imgsz=256,
        threads=2,
    )  # fmt: skip
    assert result.frames == frames
    table = pd.read_parquet(tmp_path / "out" / "mosaics.parquet")
    hits = set()
    x, y, w, h = box
    for row in table[table["instance"] >= 0].itertuples():
        mask = decode_rle(row.rle, result.height, result.width)
        if mask[y : y + h, x : x + w].mean() > 0.5 and np.count_nonzero(mask) < 2 * w * h:
            hits.add(row.frame)
    assert len(hits) / frames >= FFMPEG_RECALL_FLOOR, (len(hits), frames)


def test_onnx_export_gives_the_same_masks_as_the_weights(demo_results, ultralytics_offline):
    # best.onnx (onnxruntime) and best.pt agree on 6 mosaicked frames of a test video
    from tests.helpers import (
        assert_masks_agree,
        onnx_and_weights_predictions,
        truth_frames,
    )

    testset = demo_results / "detection_testset"
    truth = testset / "world-test-00.json"
    height, width = (json.loads(truth.read_text())[k] for k in ("height", "width"))
    pairs = onnx_and_weights_predictions(
        ultralytics_offline,
        demo_results / "models" / "detector",
        testset / "world-test-00.mp4",
        truth_frames(truth, "instances", 6),
        "segment",
        256,  # the export's fixed square input
    )
    assert_masks_agree(pairs, (height, width), min_found=4)
