"""Rule find_label_issues: the region segmenter over the labelme training frames, the frames
ranked by :mod:`mosaicflow.curate.label_issues`, the flagged ones exported as labelme files.

Outputs: ``results/review/label_issues.parquet`` (every frame, ranked), ``results/review/
labelme/`` (the flagged frames, lowest quality first, as labelme JSON + image with their current
labels, and ``export.json`` recording where each came from and the hashes of its image and
labels) and ``results/metrics/label_issues.json`` (counts; on the demo world also recall and
precision against the injected errors).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.curate.label_issues import (
    LabelIssuesConfig,
    label_boxes,
    rank_frames,
    score_against_truth,
)
from mosaicflow.formats.labelme import LabelmeFrame, list_labelme, read_labelme
from mosaicflow.io import atomic_dir, read_json, write_json, write_parquet

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
_BATCH = 16


@dataclass(frozen=True)
class LabelIssueJob:
    """One run of the finder.

    Attributes:
        labelme_dirs: the region training set's labelme folders.
        model: the region segmenter's weights (``.pt``).
        labels: the target labels (``regions.labels``), in class order.
        empty_flag: the labelme flag of frames without targets.
        imgsz: inference size (``regions.imgsz``).
        device: ``auto``, ``cpu`` or ``cuda:N``.
        threads: CPU threads.
        work: scratch folder (ultralytics settings).
        table: where ``label_issues.parquet`` goes.
        export_dir: where the flagged frames go.
        metrics: where the metrics JSON goes.
        truth_errors: the demo world's injected errors (``train-errors.json``), or None.
    """

    labelme_dirs: tuple[Path, ...]
    model: Path
    labels: tuple[str, ...]
    empty_flag: str | None
    imgsz: int
    device: str
    threads: int
    work: Path
    table: Path
    export_dir: Path
    metrics: Path
    truth_errors: Path | None = None


@dataclass(frozen=True)
class LabelIssueResult:
    """What the finder found: frames scored, frames flagged, and the metrics written."""

    frames: int
    flagged: int
    metrics: dict[str, Any]


def read_frames(dirs: Sequence[Path], labels: Sequence[str], empty_flag: str | None):
    """Every labelme frame of ``dirs`` (files sorted per folder), parsed and checked."""
    frames: list[LabelmeFrame] = []
    for folder in dirs:
        files = list_labelme(Path(folder))
        if not files:
            raise ValueError(f"{folder}: no labelme JSON files")
        frames += [read_labelme(f, labels, empty_flag) for f in files]
    return frames


def image_name(frame: LabelmeFrame) -> str:
    """The image file a labelme frame names (``imagePath``'s file name; the JSON's stem with
    the image's suffix when the image is embedded)."""
    doc = read_json(frame.json_path)
    path = doc.get("imagePath") or ""
    fallback = frame.json_path.with_suffix(frame.image_suffix).name
    return Path(path.replace("\\", "/")).name or fallback


def predict(
    model_path: Path, frames: Sequence[LabelmeFrame], job: LabelIssueJob, min_score: float
) -> list[list[np.ndarray]]:
    """The segmenter's boxes per frame and class: (M, 5) arrays ``x0 y0 x1 y1 confidence``."""
    import cv2

    from mosaicflow.devices import ultralytics_device
    from mosaicflow.yolo.offline import prepare_ultralytics

    prepare_ultralytics(job.work / "yolo_config", job.threads)
    from ultralytics import YOLO

    model = YOLO(str(model_path), task="segment")
    device = ultralytics_device(job.device)
    classes = len(job.labels)
    out: list[list[np.ndarray]] = []
    for start in range(0, len(frames), _BATCH):
        chunk = frames[start : start + _BATCH]
        images = [
            cv2.imdecode(np.frombuffer(f.image_bytes, np.uint8), cv2.IMREAD_COLOR) for f in chunk
        ]
        results = model.predict(
            images, imgsz=job.imgsz, conf=min_score, device=device, verbose=False
        )
        for result in results:
            boxes = result.boxes
            xyxy = boxes.xyxy.cpu().numpy().astype(np.float64)
            conf = boxes.conf.cpu().numpy().astype(np.float64)
            cls = boxes.cls.cpu().numpy().astype(int)
            out.append(
                [np.column_stack([xyxy[cls == k], conf[cls == k]]) for k in range(classes)]
            )
        log.info("predicted %d/%d frames", min(start + _BATCH, len(frames)), len(frames))
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_flagged(
    table: Any, frames: Sequence[LabelmeFrame], out_dir: Path, count: int
) -> list[dict[str, Any]]:
    """Copy the ``count`` lowest-quality flagged frames (labelme JSON + image file) into
    ``out_dir`` with ``export.json``; returns the export records."""
    by_path = {str(f.json_path): f for f in frames}
    flagged = table[table["issue"]].head(count)
    records = []
    with atomic_dir(out_dir) as tmp:
        for row in flagged.itertuples():
            frame = by_path[row.labelme]
            name = f"{int(row.rank):05d}_{frame.json_path.stem}"
            doc = read_json(frame.json_path)
            image_file = f"{name}{frame.image_suffix}"
            (tmp / image_file).write_bytes(frame.image_bytes)
            doc["imagePath"], doc["imageData"] = image_file, None
            write_json(tmp / f"{name}.json", doc)
            records.append(
                {
                    "file": f"{name}.json",
                    "source": row.labelme,
                    "rank": int(row.rank),
                    "quality": float(row.quality),
                    "reason": row.reason,
                    "image_sha256": _sha256(frame.image_bytes),
                    "labels_sha256": _sha256(frame.json_path.read_bytes()),
                }
            )
        write_json(tmp / "export.json", {"version": EXPORT_VERSION, "frames": records})
    return records


def find_label_issues(job: LabelIssueJob, cfg: LabelIssuesConfig) -> LabelIssueResult:
    """Score, rank and export the region training frames (the rule's entry point)."""
    frames = read_frames(job.labelme_dirs, job.labels, job.empty_flag)
    predictions = predict(job.model, frames, job, cfg.min_score)
    names = [(str(f.json_path), image_name(f)) for f in frames]
    table = rank_frames(names, [label_boxes(f) for f in frames], predictions, cfg.threshold)
    write_parquet(job.table, table)
    exported = export_flagged(table, frames, job.export_dir, cfg.export)
    metrics: dict[str, Any] = {
        "frames": len(table),
        "flagged": int(table["issue"].sum()),
        "exported": len(exported),
        "reasons": {
            str(k): int(v) for k, v in table[table["issue"]]["reason"].value_counts().items()
        },
    }
    if job.truth_errors is not None:
        errors = read_json(job.truth_errors)["errors"]
        metrics["truth"] = score_against_truth(table, errors)
        cleanlab_only = table.assign(issue=table["cleanlab_quality"] < cfg.threshold)
        cleanlab_only["quality"] = cleanlab_only["cleanlab_quality"]
        metrics["truth_cleanlab_only"] = score_against_truth(cleanlab_only, errors)
    write_json(job.metrics, metrics)
    log.info("label issues: %s", metrics)
    return LabelIssueResult(len(table), metrics["flagged"], metrics)
