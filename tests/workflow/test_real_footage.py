"""A user's first labelled set on real footage: the real-data path end to end.

The data (:mod:`tests.realdata`): videos panning over real photographs, faces standing in for
the sensitive regions, 12 labelled frames of one source at 175x143 for training and 12 frames
of two other sources at 480x360 for validation, plus videos without a face. The run is the
default config (`profile: demo`) on `source.kind: videos` with a video sheet and labelme
folders; only the stages after the segmenter get the tiny budgets of the plumbing tests (their
quality is measured on the demo world). The segmenter must find the faces of the held-out
sources, stay quiet on the videos without one, and the chain must run to its report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests import realdata
from tests.helpers import planned_jobs, report_contents, run_snakemake

pytestmark = pytest.mark.workflow

#: Validation mask mAP50 of the segmenter on the held-out sources' 12 labelled frames.
VAL_MASK_MAP50_FLOOR = 0.4
#: Share of the held-out sources' true faces (frame by frame) half covered by a found region.
FACE_RECALL_FLOOR = 0.7
#: Pooled IoU of found and true face pixels over the held-out frames with a face.
FACE_IOU_FLOOR = 0.4
#: Share of the faceless videos' frames with any region found.
FACELESS_FP_CEILING = 0.3

#: Everything after the segmenter at the plumbing tests' budgets.
OVERLAY = """
source:
  kind: videos
  videos: {sheet}
  labelme_train: {labelme_train}
  labelme_val: {labelme_val}
regions:
  labels: [face]
quality: {{crop: 32, frames: 12, val_frames: 6, iterations: 10, batch: 8}}
restoration_dataset: {{out_size: 32, max_clips_per_video: 2}}
restoration:
  mid_channels: 8
  num_blocks: 1
  init_weights: random
  num_workers: 1
  stage1: {{iterations: 3, num_frames: 3, size: 32, checkpoint_every: 2, val_every: 3}}
  stage2:
    {{iterations: 3, num_frames: 3, size: 32, checkpoint_every: 2, val_every: 3,
     disc_mid_channels: 8}}
detection_dataset: {{frames_per_video: 6, imgsz: 64}}
detector: {{imgsz: 64, batch: 4, epochs: 1, min_steps: 0}}
watermark_set: {{images_per_video: 4, imgsz: 64}}
watermark: {{imgsz: 64, batch: 4, epochs: 1, min_steps: 0}}
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("real_footage")
    data = realdata.build(root / "data")
    overlay = root / "real.yaml"
    overlay.write_text(OVERLAY.format(**{k: str(v) for k, v in data.items()}))
    run_snakemake(root, "--resources", "gpu=1", configfiles=[overlay], timeout=2400)
    report = root / "report.html"  # outside results/: the run's outputs stay as they were
    run_snakemake(root, "--report", str(report), configfiles=[overlay])
    return root / "results", data


def _video_ids(sheet: Path) -> dict[str, str]:
    from mosaicflow.plan.sources import read_sheet

    return {Path(v.name).stem: v.id for v in read_sheet(sheet)}


def _found_masks(regions: Path, size: tuple[int, int]) -> dict[int, np.ndarray]:
    """Per processed frame, the union of the regions found."""
    from mosaicflow.yolo.infer import decode_rle

    table = pd.read_parquet(regions)
    width, height = size
    masks = {}
    for frame, rows in table.groupby("frame"):
        mask = np.zeros((height, width), bool)
        for counts in rows.loc[rows["instance"] >= 0, "rle"]:
            mask |= decode_rle(counts, height, width)
        masks[int(frame)] = mask
    return masks


def test_the_segmenter_learns_faces_from_a_dozen_small_frames(real_run):
    results, _ = real_run
    card = json.loads((results / "models" / "region_seg" / "model.json").read_text())
    training = card["training"]
    assert training["steps"] >= 200  # min_steps, not 6 epochs of one step
    assert training["freeze"] == "head-only"  # freeze: auto on 12 images
    assert card["metrics"]["val"]["mask_map50"] >= VAL_MASK_MAP50_FLOOR, card["metrics"]


def test_faces_of_the_held_out_sources_are_found(real_run):
    results, data = real_run
    ids = _video_ids(data["sheet"])
    truth = json.loads(data["truth"].read_text())
    covered = faces = 0
    inter = union = 0
    for name in ("heldout-zidane", "heldout-bus"):
        plan = next(p for p in realdata.PLANS if p.name == name)
        found = _found_masks(results / "regions" / ids[name] / "regions.parquet", plan.size)
        assert len(found) >= len(truth[name]) // 2  # most frames were looked at
        for frame, mask in found.items():
            boxes = truth[name][frame]
            for box in boxes:
                face = realdata.face_mask([box], plan.size)
                faces += 1
                covered += (mask & face).sum() >= face.sum() / 2
            if boxes:
                every = realdata.face_mask(boxes, plan.size)
                inter += (mask & every).sum()
                union += (mask | every).sum()
    assert covered / faces >= FACE_RECALL_FLOOR, (covered, faces)
    assert inter / union >= FACE_IOU_FLOOR, (inter, union)


def test_videos_without_a_face_stay_quiet(real_run):
    results, data = real_run
    ids = _video_ids(data["sheet"])
    frames = fired = 0
    for plan in realdata.PLANS:
        if not plan.name.startswith("no-faces"):
            continue
        found = _found_masks(results / "regions" / ids[plan.name] / "regions.parquet", plan.size)
        frames += len(found)
        fired += sum(bool(mask.any()) for mask in found.values())
    assert frames > 0
    assert fired / frames <= FACELESS_FP_CEILING, (fired, frames)


def test_the_chain_runs_to_its_report(real_run):
    results, _ = real_run
    clips = pd.read_parquet(results / "restoration_dataset" / "index.parquet")
    assert len(clips) > 0
    assert any((results / "detection_dataset").rglob("*.txt"))
    assert (results / "models" / "detector" / "best.pt").is_file()
    assert any((results / "models" / "restoration").glob("*.pth"))
    # no watermark set was given: one was made from the footage, and the clips were analysed
    marks = json.loads((results / "watermark_set" / "watermark_set.json").read_text())
    assert marks["train"]["images"] > 0 and marks["train"]["text"] + marks["train"]["logo"] > 0
    assert (results / "models" / "watermark" / "best.pt").is_file()
    assert clips.loc[clips["kept"], "watermark"].notna().all()
    metrics = json.loads((results / "metrics.json").read_text())
    assert {"region_seg", "detector", "evaluate"} <= set(metrics)
    _, categories = report_contents((results.parent / "report.html").read_text(encoding="utf-8"))
    assert "results/evaluate/grid.png" in str(categories)
    assert "results/restoration_dataset/sheets/train.png" in str(categories)


def test_a_labelme_file_edited_in_place_rebuilds_the_region_dataset(real_run):
    results, data = real_run
    root, overlay = results.parent, results.parent / "real.yaml"
    label = sorted(Path(data["labelme_train"]).glob("*.json"))[0]
    original = label.read_text()
    try:
        os.utime(label)  # saved again without a change: nothing reruns
        dry = run_snakemake(root, "-n", configfiles=[overlay])
        assert "build_region_dataset" not in planned_jobs(dry.stdout), dry.stdout[-3000:]
        frame = json.loads(original)
        frame["shapes"][0]["points"] = [[x + 5, y + 3] for x, y in frame["shapes"][0]["points"]]
        label.write_text(json.dumps(frame))  # as labelme's Save: in place, the folder's date
        assert label.parent.stat().st_mtime < label.stat().st_mtime  # stays as it was
        jobs = planned_jobs(run_snakemake(root, "-n", configfiles=[overlay]).stdout)
        assert jobs.get("build_region_dataset") == 1 and jobs.get("train_model", 0) >= 1, jobs
    finally:
        label.write_text(original)
