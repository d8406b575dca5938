"""`mosaicflow review frames` and `frames-export` with the demo's region segmenter on a demo
test video: the commands as a user runs them, and the two-model comparison on real results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mosaicflow.formats.labelme import list_labelme, read_labelme
from mosaicflow.video.decode import probe_video
from tests.helpers import demo_world_videos

pytestmark = pytest.mark.workflow

#: Frames of the video the commands look at (enough for tracks, cheap on two cores).
FRAMES = 60


def _mosaicflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mosaicflow.cli", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def segmenter(demo_results) -> tuple[Path, int]:
    folder = demo_results / "models" / "region_seg"
    return folder / "best.pt", int(json.loads((folder / "model.json").read_text())["imgsz"])


@pytest.fixture(scope="module")
def video(demo_results) -> Path:
    name = next(iter(demo_world_videos("test")))
    return demo_results / "world" / "videos" / f"{name}.mp4"


def test_pages_and_export_from_the_demo_segmenter(segmenter, video, tmp_path):
    model, _ = segmenter  # inference at the size it was trained at, read from the checkpoint
    pages = tmp_path / "pages"
    run = _mosaicflow(
        "review", "frames", str(video), "--model", str(model),
        "--second-model", str(model.with_suffix(".onnx")),
        "--max-frames", str(FRAMES), "--count", "6", "--out", str(pages),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    page = pages / video.stem
    listed = json.loads((page / "frames.json").read_text())["frames"]
    assert 1 <= len(listed) <= 6
    tsv = (pages / "picks.tsv").read_text().splitlines()[1:]
    assert [row.split("\t")[2] for row in tsv] == listed
    assert all(row.split("\t")[4] for row in tsv)  # every pick has a reason

    selection = tmp_path / "selection.json"
    selection.write_text(
        json.dumps(
            {
                "format": "mosaicflow-review-frames-selection",
                "version": 1,
                "video": video.stem,
                "page": str(page),
                "frames": listed[:2],
            }
        )
    )
    labelme = tmp_path / "to_correct"
    run = _mosaicflow("review", "frames-export", str(selection), "--out", str(labelme))
    assert run.returncode == 0, run.stderr
    assert [p.stem for p in list_labelme(labelme)] == listed[:2]
    for path in list_labelme(labelme):
        assert path.read_bytes() == (page / path.name).read_bytes()
        assert read_labelme(path, ["nsfw"]).width == probe_video(video).display_width
    run = _mosaicflow(
        "convert", "labelme-to-yolo", "--train", str(labelme), "--labels", "nsfw",
        "--out", str(tmp_path / "yolo"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert len(list((tmp_path / "yolo").rglob("*.txt"))) >= 2

    mine = tmp_path / "my_labels"
    mine.mkdir()
    (mine / "frame.json").write_text("{}")
    run = _mosaicflow("review", "frames-export", str(selection), "--out", str(mine))
    assert run.returncode == 2
    assert "not an earlier output" in run.stderr
    assert [p.name for p in mine.iterdir()] == ["frame.json"]


def test_two_models_disagree_only_where_their_regions_differ(segmenter, video, ultralytics_offline):
    """The segmenter against its ONNX export: frames whose found regions match box for box
    agree closely; every frame flagged as a disagreement has a region one of them finds and the
    other does not (a score either side of the found score)."""
    from mosaicflow.curate.hard_frame_predict import predict_video
    from mosaicflow.curate.hard_frames import box_iou
    from mosaicflow.yolo.checkpoint import load_yolo

    model, imgsz = segmenter
    settings = {"lowest": 0.1, "found": 0.25, "imgsz": imgsz, "device": "cpu"}
    exported = load_yolo(model.with_suffix(".onnx"), "segment")
    both = predict_video(video, load_yolo(model), **settings, max_frames=FRAMES, second=exported)
    alone = predict_video(video, exported, **settings, max_frames=FRAMES)
    assert len(both.agreement) == FRAMES

    def found(detections):
        return [d.box for d in detections if d.score >= settings["found"]]

    matched = 0
    for index, iou in both.agreement.items():
        first, second = found(both.detections[index]), found(alone.detections[index])
        same = len(first) == len(second) and all(
            max(box_iou(a, b) for b in second) > 0.8 for a in first
        )
        if same:
            matched += 1
            assert iou > 0.8, f"frame {index}: the same regions, IoU {iou:.2f}"
        if iou < 0.5:
            assert not same, f"frame {index}: IoU {iou:.2f} with the same regions"
    assert matched >= FRAMES // 2
