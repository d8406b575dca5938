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
from mosaicflow.formats.dataset import read_labelme_dirs
from mosaicflow.formats.labelme import LabelmeFrame
from mosaicflow.io import atomic_dir, atomic_path, read_json, write_json, write_parquet

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
_BATCH = 16
#: Frames on the report's sheet (``label_issues.png``), per row, and the tile height in pixels.
SHEET_FRAMES = 12
SHEET_COLUMNS = 4
SHEET_TILE = 160
#: Predictions drawn on the sheet: at least this confident.
SHEET_MIN_SCORE = 0.25


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
        sheet: where the report's sheet of the top flagged frames goes (None: not drawn).
        truth_errors: the demo world's injected errors (``train-errors.json``), or None.
        overrides: the reviewed corrections (``results/review/label_overrides``), or None.
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
    sheet: Path | None = None
    truth_errors: Path | None = None
    overrides: Path | None = None


@dataclass(frozen=True)
class LabelIssueResult:
    """What the finder found: frames scored, frames flagged, and the metrics written."""

    frames: int
    flagged: int
    metrics: dict[str, Any]


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

    from mosaicflow.yolo.adapter import open_model

    yolo = open_model(
        model_path, task="segment", config_dir=job.work / "yolo_config", threads=job.threads,
        device=job.device,
    )  # fmt: skip
    model, device = yolo.model, yolo.device
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
            out.append([np.column_stack([xyxy[cls == k], conf[cls == k]]) for k in range(classes)])
        log.info("predicted %d/%d frames", min(start + _BATCH, len(frames)), len(frames))
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_flagged(
    table: Any,
    frames: Sequence[tuple[str, LabelmeFrame]],
    out_dir: Path,
    count: int,
    labels: Sequence[str] = (),
    empty_flag: str | None = None,
) -> list[dict[str, Any]]:
    """Copy the ``count`` lowest-quality flagged frames (labelme JSON + image file) into
    ``out_dir`` with ``export.json`` (the labels and empty flag they were read with, and the
    records); returns the records (``source``: the training frame, ``labels_file``: the file its
    current labels come from)."""
    by_path = dict(frames)
    flagged = table[table["issue"]].head(count)
    records = []
    with atomic_dir(out_dir) as tmp:
        for row in flagged.itertuples():
            frame = by_path[row.labelme]
            name = f"{int(row.rank):05d}_{Path(row.labelme).stem}"
            doc = read_json(frame.json_path)
            image_file = f"{name}{frame.image_suffix}"
            (tmp / image_file).write_bytes(frame.image_bytes)
            doc["imagePath"], doc["imageData"] = image_file, None
            write_json(tmp / f"{name}.json", doc)
            records.append(
                {
                    "file": f"{name}.json",
                    "source": row.labelme,
                    "labels_file": str(frame.json_path),
                    "rank": int(row.rank),
                    "quality": float(row.quality),
                    "reason": row.reason,
                    "image_sha256": _sha256(frame.image_bytes),
                    "labels_sha256": _sha256(frame.json_path.read_bytes()),
                }
            )
        export = {
            "version": EXPORT_VERSION,
            "labels": list(labels),
            "empty_flag": empty_flag,
            "frames": records,
        }
        write_json(tmp / "export.json", export)
    return records


def _tile(frame: LabelmeFrame, predictions: Sequence[np.ndarray], caption: str) -> np.ndarray:
    """One frame at :data:`SHEET_TILE` px high: labels outlined red, confident predictions as
    green boxes, the caption above (RGB)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(frame.image_bytes, np.uint8), cv2.IMREAD_COLOR)
    scale = SHEET_TILE / image.shape[0]
    image = cv2.resize(image, (round(image.shape[1] * scale), SHEET_TILE))
    for shape in frame.shapes:
        points = np.round(shape.polygon * scale).astype(np.int32)
        cv2.polylines(image, [points], True, (0, 0, 255), 1, cv2.LINE_AA)
    for preds in predictions:
        for x0, y0, x1, y1, score in preds:
            if score >= SHEET_MIN_SCORE:
                top_left = (round(x0 * scale), round(y0 * scale))
                cv2.rectangle(
                    image, top_left, (round(x1 * scale), round(y1 * scale)), (0, 200, 0), 1
                )
    band = np.full((18, image.shape[1], 3), 255, np.uint8)
    cv2.putText(band, caption, (2, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return cv2.cvtColor(np.concatenate([band, image], axis=0), cv2.COLOR_BGR2RGB)


def issue_sheet(
    table: Any,
    frames: Sequence[tuple[str, LabelmeFrame]],
    predictions: Sequence[Sequence[np.ndarray]],
) -> np.ndarray:
    """The :data:`SHEET_FRAMES` lowest-quality flagged frames in a grid (RGB, white gaps)."""
    index = {source: k for k, (source, _) in enumerate(frames)}
    tiles = []
    for row in table[table["issue"]].head(SHEET_FRAMES).itertuples():
        k = index[row.labelme]
        caption = f"#{int(row.rank)} {row.reason} q={float(row.quality):.2f}"
        tiles.append(_tile(frames[k][1], predictions[k], caption))
    if not tiles:
        return np.full((40, 4 * SHEET_TILE, 3), 255, np.uint8)
    width = max(t.shape[1] for t in tiles)
    height = max(t.shape[0] for t in tiles)
    padded = [
        np.pad(t, ((0, height - t.shape[0] + 4), (0, width - t.shape[1] + 4), (0, 0)),
               constant_values=255)
        for t in tiles
    ]  # fmt: skip
    blank = np.full_like(padded[0], 255)
    padded += [blank] * (-len(padded) % SHEET_COLUMNS)
    rows = [
        np.concatenate(padded[i : i + SHEET_COLUMNS], axis=1)
        for i in range(0, len(padded), SHEET_COLUMNS)
    ]
    return np.concatenate(rows, axis=0)


def find_label_issues(job: LabelIssueJob, cfg: LabelIssuesConfig) -> LabelIssueResult:
    """Score, rank and export the region training frames (the rule's entry point)."""
    from mosaicflow.curate.label_overrides import override_paths

    frames = read_labelme_dirs(
        job.labelme_dirs, job.labels, job.empty_flag, override_paths(job.overrides)
    )
    parsed = [frame for _, frame in frames]
    predictions = predict(job.model, parsed, job, cfg.min_score)
    names = [(source, image_name(frame)) for source, frame in frames]
    table = rank_frames(names, [label_boxes(f) for f in parsed], predictions, cfg.threshold)
    write_parquet(job.table, table)
    exported = export_flagged(table, frames, job.export_dir, cfg.export, job.labels, job.empty_flag)
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
    if job.sheet is not None:
        import cv2

        with atomic_path(job.sheet) as tmp:
            image = cv2.cvtColor(issue_sheet(table, frames, predictions), cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(str(tmp), image):
                raise OSError(f"{job.sheet}: could not write the PNG")
    write_json(job.metrics, metrics)
    log.info("label issues: %s", metrics)
    return LabelIssueResult(len(table), metrics["flagged"], metrics)
