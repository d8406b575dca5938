"""The detector's mosaicked test videos, its frame-level rates and ``mosaicflow detect`` errors."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.cli import main
from mosaicflow.datasets.detection.testset import build_test_video, mosaic_components
from mosaicflow.formats.truth import (
    TRUTH_VERSION,
    load_truth_json,
    read_truth,
    truth_mask_writer,
    write_truth_json,
)
from mosaicflow.video.decode import iter_frames
from mosaicflow.yolo.mosaics import (
    CLEAN_FLAGS,
    FRAME_FLAGS,
    above,
    choose_threshold,
    frame_rates,
    pool_negative_frames,
)
from tests.unit.datasets.conftest import mosaic_cfg


def _world_like(det_source, folder, faces=None):
    """Truth mask video and truth JSON for the synthetic source (track 1 = instance 1), with
    ``faces`` (frame -> face boxes) in the truth JSON when given."""
    frames = len(det_source.frames)
    h, w = det_source.frames.shape[1:3]
    truth = folder / "truth.mkv"
    with truth_mask_writer(truth, 10, w, h) as write:
        for i in range(frames):
            write(det_source.masks[1][i].astype(np.uint8) * (i % 3 != 0))
    data = {
        "version": TRUTH_VERSION, "fps": 10, "width": w, "height": h, "frames": frames,
        "classes": [], "per_frame": [
            {"frame": i, "scene": int(i >= 12), "instances": [1] if i % 3 else [],
             "watermarks": []} for i in range(frames)
        ],
    }  # fmt: skip
    for entry in data["per_frame"] if faces is not None else []:
        entry["faces"] = faces.get(entry["frame"], [])
    write_truth_json(folder / "truth.json", data)
    return truth, folder / "truth.json"


def test_test_video_has_mosaics_on_every_frame_with_a_region(det_source, tmp_path):
    truth, truth_json = _world_like(det_source, tmp_path)
    outs = [tmp_path / "t.mp4", tmp_path / "t.mkv", tmp_path / "t.json"]
    result = build_test_video(
        mosaic_cfg(), det_source.video, truth, truth_json, *outs, seed=7, test_seed=1
    )
    assert result.frames == 24 and result.frames_with_mosaic == 16
    data = load_truth_json(outs[2])
    source = dict(iter_frames(det_source.video))
    for (i, ids), (_, image) in zip(read_truth(outs[1]), iter_frames(outs[0]), strict=True):
        assert bool(ids.any()) == (i % 3 != 0) == bool(data["per_frame"][i]["instances"])
        diff = np.abs(image.astype(int) - source[i].astype(int)).sum(-1)
        if ids.any():  # changed inside the mosaic, only re-encoded outside
            assert diff[ids > 0].mean() > 2 * diff[ids == 0].mean()
    with pytest.raises(ValueError, match="test_seed"):
        build_test_video(mosaic_cfg(), det_source.video, truth, truth_json, *outs, seed=7,
                         test_seed=0)  # fmt: skip


def test_test_video_leaves_out_mosaics_fainter_than_min_change(det_source, tmp_path):
    truth, truth_json = _world_like(det_source, tmp_path)
    outs = [tmp_path / "t.mp4", tmp_path / "t.mkv", tmp_path / "t.json"]
    # no mosaic of this source changes its pixels by 255 levels on average: none is drawn
    result = build_test_video(
        mosaic_cfg(), det_source.video, truth, truth_json, *outs, seed=7, test_seed=1,
        min_change=255.0,
    )  # fmt: skip
    assert result.frames == 24 and result.frames_with_mosaic == 0 and result.mosaics == 0
    assert not any(ids.any() for _, ids in read_truth(outs[1]))
    assert not any(entry["instances"] for entry in load_truth_json(outs[2])["per_frame"])


def test_faces_of_the_truth_get_face_mosaics_outside_the_regions(det_source, tmp_path):
    from tests.unit.datasets.detection.conftest import detection_cfg

    box = [50, 36, 86, 70]  # the square region crosses it in the later frames
    faces = {i: [box] for i in range(4, 24)}
    truth, truth_json = _world_like(det_source, tmp_path, faces)
    cfg = detection_cfg(faces={"enabled": True}).faces
    outs = [tmp_path / "t.mp4", tmp_path / "t.mkv", tmp_path / "t.json"]
    result = build_test_video(
        mosaic_cfg(), det_source.video, truth, truth_json, *outs, seed=7, test_seed=1,
        faces=cfg,
    )  # fmt: skip
    assert result.frames_with_mosaic == 16 and result.face_mosaics == 20
    data = load_truth_json(outs[2])
    regions = dict(enumerate(det_source.masks[1][i] for i in range(24)))
    source = dict(iter_frames(det_source.video))
    for (i, ids), (_, image) in zip(read_truth(outs[1]), iter_frames(outs[0]), strict=True):
        entry = data["per_frame"][i]
        face_ids = entry["face_instances"]
        assert len(face_ids) == (i >= 4) and set(face_ids) <= set(entry["instances"])
        region_ids = [k for k in entry["instances"] if k not in face_ids]
        assert bool(region_ids) == (i % 3 != 0)
        if not face_ids:
            continue
        face = ids == face_ids[0]
        assert not (face & regions[i]).any()  # never over a region, pixelated or not
        ys, xs = np.nonzero(face)  # the grown face box, out to the edge of its blocks
        assert 50 - 16 <= xs.min() <= xs.max() <= 86 + 16 and ys.min() >= 36 - 16
        diff = np.abs(image.astype(int) - source[i].astype(int)).sum(-1)
        assert diff[face].mean() > 2 * diff[ids == 0].mean()
    # without the face class the faces of the truth are left as they are
    plain = build_test_video(
        mosaic_cfg(), det_source.video, truth, truth_json, *outs, seed=7, test_seed=1
    )
    assert plain.face_mosaics == 0 and plain.frames_with_mosaic == 16
    assert "face_instances" not in load_truth_json(outs[2])["per_frame"][5]


def test_mosaic_components_are_8_connected():
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:3] = mask[3:5, 3:5] = True  # diagonal neighbours: one component
    mask[7:9, 7:9] = True
    assert mosaic_components(mask).max() == 2


def test_frame_rates():
    rates = frame_rates([True, False, True, False, True], [True, True, False, False, False])
    assert rates == {"frame_recall": 0.5, "frame_fp_rate": round(2 / 3, 4),
                     "frames_with_mosaic": 2, "frames_without_mosaic": 3,
                     "false_positive_frames": 2}  # fmt: skip
    with pytest.raises(ValueError, match=r"\(1,\) detections but \(2,\) truth frames"):
        frame_rates([True], [True, False])


def test_negative_frames_pool_each_frame_once_by_either_copy():
    # 10 frames: 6 with a mosaic in the mosaicked copy, 4 without
    truth = [True] * 6 + [False] * 4
    found = [True] * 6 + [True, False, False, False]  # mosaic-free frame 6 fired
    clean = [False] * 9 + [True]  # the clean copy of frame 9 fired
    test = {FRAME_FLAGS: {"found": found, "truth": truth}, CLEAN_FLAGS: clean, "conf": 0.4}
    pooled = pool_negative_frames(test)
    # every frame counts once; frames 6 and 9 fired, each in one copy
    assert pooled["negative_frames"] == 10 and pooled["negative_frame_fp_rate"] == 0.2
    low, high = pooled["negative_frame_fp_rate_ci95"]
    assert 0 <= low < 0.2 < high
    assert test == {"conf": 0.4}  # the flags never reach the card
    # a detection on a frame with a mosaic is no false positive
    both = {FRAME_FLAGS: {"found": found, "truth": truth}, CLEAN_FLAGS: [False] * 10}
    assert pool_negative_frames(both)["negative_frame_fp_rate"] == 0.1
    # copies that do not pair up, and a record without clean flags
    with pytest.raises(ValueError, match="9 frames without mosaics but 10 mosaicked"):
        pool_negative_frames(
            {FRAME_FLAGS: {"found": found, "truth": truth}, CLEAN_FLAGS: clean[:9]}
        )
    assert pool_negative_frames({FRAME_FLAGS: {"found": found, "truth": truth}}) == {}


def test_above_is_the_next_4_decimal_threshold_strictly_above():
    assert above(0.3) == 0.3001
    assert above(0.29999) == 0.3
    assert above(0.0) == 0.0001
    for score in (0.123456, 0.5, 0.99995):
        assert above(score) > score and above(score) - score <= 1e-4 + 1e-12


def test_threshold_is_the_lowest_with_the_allowed_false_positives():
    negatives = [0.9, 0.6, 0.4, 0.1] + [0.0] * 16  # 20 frames without a mosaic
    positives = [0.95, 0.7, 0.5, 0.3]
    # 5 % of 20 = 1 frame may fire: the threshold must exclude the second highest (0.6)
    chosen = choose_threshold(negatives, positives, floor=0.25, max_fp_rate=0.05)
    assert chosen["conf"] == 0.6001
    assert chosen["frame_fp_rate"] == 0.05 and chosen["frame_recall"] == 0.5
    assert chosen["frames_without_mosaic"] == 20 and chosen["frames_with_mosaic"] == 4
    # none may fire: above the highest negative
    assert choose_threshold(negatives, positives, floor=0.25, max_fp_rate=0.0)["conf"] == 0.9001
    # 3 may fire (15 %): anything above 0.1 would do, but never below the floor
    loose = choose_threshold(negatives, positives, floor=0.25, max_fp_rate=0.15)
    assert loose["conf"] == 0.25 and loose["frame_fp_rate"] == 0.15
    assert loose["frame_recall"] == 1.0
    # no negatives: the floor
    assert choose_threshold([], positives, floor=0.3, max_fp_rate=0.0)["conf"] == 0.3
    with pytest.raises(ValueError, match="max_fp_rate 2"):
        choose_threshold(negatives, positives, floor=0.25, max_fp_rate=2)


def test_detect_rejects_a_non_model_and_a_broken_video(
    det_source, tmp_path, capsys, ultralytics_offline
):
    # ultralytics keeps the first config folder of the process: the session's, not this
    # command's output folder, which its failure removes
    fake = tmp_path / "best.pt"
    fake.write_bytes(b"not a checkpoint")
    code = main(["detect", str(det_source.video), "--model", str(fake), "--out",
                 str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "best.pt" in capsys.readouterr().err
    text = tmp_path / "weights.txt"
    text.write_text("x")
    assert main(["detect", str(det_source.video), "--model", str(text), "--out",
                 str(tmp_path / "out")]) == 2  # fmt: skip
    assert "weights.txt" in capsys.readouterr().err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    assert main(["detect", str(broken), "--model", str(fake), "--out", str(tmp_path / "o")]) == 2
    assert "broken.mp4" in capsys.readouterr().err


def test_test_video_keeps_the_source_audio(tmp_path):
    from tests.unit.inference.conftest import stream_info, textured_frames, write_video

    n = 12
    video = write_video(tmp_path / "src.mp4", textured_frames(n), fps=10)
    h, w = textured_frames(1).shape[1:3]
    truth = tmp_path / "truth.mkv"
    with truth_mask_writer(truth, 10, w, h) as write:
        for _ in range(n):
            ids = np.zeros((h, w), np.uint8)
            ids[8:24, 8:24] = 1
            write(ids)
    per_frame = [{"frame": i, "watermarks": []} for i in range(n)]
    write_truth_json(tmp_path / "truth.json", {"version": TRUTH_VERSION, "fps": 10, "width": w,
                     "height": h, "frames": n, "classes": [], "per_frame": per_frame})  # fmt: skip
    outs = [tmp_path / "t.mp4", tmp_path / "t.mkv", tmp_path / "t.json"]
    build_test_video(mosaic_cfg(), video, truth, tmp_path / "truth.json", *outs, seed=7,
                     test_seed=1)  # fmt: skip
    source, out = stream_info(video), stream_info(outs[0])
    assert out["frames"] == n and out["audio_packets"] == source["audio_packets"] > 0
    assert out["audio_bytes"] == source["audio_bytes"]
