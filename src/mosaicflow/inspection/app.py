"""Load a run's datasets into FiftyOne and serve its App (run in the FiftyOne environment).

``mosaicflow inspect`` (:mod:`mosaicflow.inspection.cli`) starts this module with the
interpreter of the FiftyOne environment (``make inspect-env``): FiftyOne pins its own OpenCV
and database, so it does not share the workflow's environment. This module imports FiftyOne,
pandas, pycocotools and the light mosaicflow modules (the label and RLE readers), never torch.

Two datasets are (re)built on every start, named ``<name>-detection`` and ``<name>-clips``:

- the mosaic detection dataset: one image sample per image with the split as its tag,
  ``ground_truth`` (the YOLO polygons of its label), ``mosaic_mask`` (the mosaic mask),
  ``predictions`` (the detector's masks with their scores, when ``--predictions`` is given) and
  the columns of ``samples.parquet`` (video, frame, kind, positive, mosaic_count, mosaic_px,
  block_size, region_tags and region_tag: the nudenet classes inside its regions);
- the restoration clips: one video sample per clip with its split and status as tags and the
  clip index's columns (analysers: region size, watermark share, sharpness, quality,
  blockiness, region tags...; the reason a dropped clip was dropped), ``clip_path``, and
  ``sheet``, its split's contact sheet, and, when the run ranked its clips
  (``results/review/ranked.parquet``), the review fields (:data:`REVIEW_FIELDS`: rank,
  likely-false score, reasons, verdict). A clip plays its browser preview (``--previews``,
  :mod:`mosaicflow.inspection.previews`) when there is one.

The database is a ``mongod`` of this process's own, with its files in ``<results>/inspect/db``
(:mod:`mosaicflow.inspection.database`); ``FIFTYONE_DATABASE_URI`` points it at your MongoDB
instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mosaicflow.inspection.database import PrivateMongod

#: Columns of samples.parquet copied onto each detection sample (``mosaics`` is renamed; a
#: FiftyOne sample's ``tags`` are its own, so the region tags are ``region_tags``/``region_tag``).
SAMPLE_FIELDS = {
    "video": "video",
    "frame": "frame",
    "kind": "kind",
    "positive": "positive",
    "mosaics": "mosaic_count",
    "mosaic_px": "mosaic_px",
    "block_size": "block_size",
    "tags": "region_tags",
    "tag": "region_tag",
}
#: Columns of the clip index copied onto each clip sample (``frames`` is a video sample's own
#: field in FiftyOne, so the length is ``clip_frames``).
CLIP_FIELDS = {
    column: column
    for column in (
        "clip", "video", "split", "status", "kept", "reason", "fps", "region_px",
        "region_fraction", "block_size", "watermark", "sharpness", "quality", "blockiness",
    )
} | {"frames": "clip_frames", "tags": "region_tags", "tag": "region_tag"}  # fmt: skip
#: Columns of the clip ranking (``results/review/ranked.parquet``) copied onto each clip sample.
REVIEW_FIELDS = {
    "rank": "review_rank",
    "likely_false": "likely_false",
    "reasons": "review_reasons",
    "verdict": "verdict",
    "verdict_issue": "verdict_issue",
}


def review_fields(ranked: Path) -> dict[str, dict[str, Any]]:
    """clip -> its review fields (:data:`REVIEW_FIELDS`), empty without a ranking."""
    import pandas as pd

    if not ranked.is_file():
        return {}
    table = pd.read_parquet(ranked)
    return {
        str(row["clip"]): {field: _plain(row[col]) for col, field in REVIEW_FIELDS.items()}
        for row in table.to_dict("records")
    }


def _environment(results: Path) -> PrivateMongod | None:
    """FiftyOne's settings, set before it is first imported; starts the results folder's own
    database unless ``FIFTYONE_DATABASE_URI`` names one (returns it, to keep it running)."""
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
    os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
    if os.environ.get("FIFTYONE_DATABASE_URI"):
        return None
    database = PrivateMongod(results / "inspect" / "db")
    os.environ["FIFTYONE_DATABASE_URI"] = database.start()
    return database


def _plain(value: Any) -> Any:
    """A parquet cell as a plain Python value (numpy scalars and NA made JSON-like)."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def yolo_polylines(label_file: Path) -> list[tuple[int, list[tuple[float, float]]]]:
    """The polygons of a YOLO-seg label file as FiftyOne points (normalised x, y pairs), each
    with its class id, read by :func:`mosaicflow.formats.yolo.read_yolo_labels`.

    Raises:
        ValueError: naming the file and line for a malformed line.
    """
    from mosaicflow.formats.yolo import read_yolo_labels

    return [
        (int(label.class_id), [(x, y) for x, y in label.points.tolist()])
        for label in read_yolo_labels(label_file)
    ]


def prediction_detections(
    rows: Any, height: int, width: int, names: dict[int, str] | None = None
) -> list[Any]:
    """FiftyOne detections (box, cropped mask, confidence) of one image's prediction rows,
    labelled by their class's name (``names``, the dataset's; ``mosaic`` without)."""
    import fiftyone as fo

    from mosaicflow.yolo.infer import decode_rle

    out = []
    for row in rows.itertuples():
        if row.instance < 0:
            continue
        full = decode_rle(row.rle, height, width)
        x0, y0, x1, y1 = (round(float(v)) for v in (row.x0, row.y0, row.x1, row.y1))
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        out.append(
            fo.Detection(
                label=(names or {}).get(int(getattr(row, "class_id", 0)), "mosaic"),
                bounding_box=[x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height],
                mask=full[y0:y1, x0:x1],
                confidence=float(row.score),
            )
        )
    return out


def dataset_names(dataset_dir: Path) -> dict[int, str]:
    """The class names of a detection dataset's ``data.yaml`` (``mosaic`` when it has none)."""
    import yaml

    data_file = Path(dataset_dir) / "data.yaml"
    data = yaml.safe_load(data_file.read_text(encoding="utf-8")) if data_file.is_file() else {}
    names = (data or {}).get("names") or {0: "mosaic"}
    if isinstance(names, list):
        names = dict(enumerate(names))
    return {int(k): str(v) for k, v in names.items()}


def detection_samples(dataset_dir: Path, predictions: Path | None) -> list[Any]:
    """The detection dataset's images as FiftyOne samples (see the module docstring)."""
    import fiftyone as fo
    import pandas as pd
    from PIL import Image

    table = pd.read_parquet(dataset_dir / "samples.parquet")
    names = dataset_names(dataset_dir)
    predicted = pd.read_parquet(predictions) if predictions else None
    by_image = dict(tuple(predicted.groupby("image"))) if predicted is not None else {}
    samples = []
    for row in table.sort_values("image").itertuples():
        image = dataset_dir / row.image
        split_dir = image.parent.parent
        label = split_dir / "labels" / f"{image.stem}.txt"
        sample = fo.Sample(filepath=str(image.resolve()), tags=[str(row.split)])
        polygons = yolo_polylines(label) if label.is_file() else []
        sample["ground_truth"] = fo.Polylines(
            polylines=[
                fo.Polyline(
                    label=names.get(cls, str(cls)), points=[points], closed=True, filled=True
                )
                for cls, points in polygons
            ]
        )
        for field, sub in (("mosaic_mask", "masks"), ("face_mask", "face_masks")):
            mask = split_dir / sub / f"{image.stem}.png"
            if mask.is_file():
                sample[field] = fo.Segmentation(mask_path=str(mask.resolve()))
        for column, field in SAMPLE_FIELDS.items():
            if column in table.columns:
                sample[field] = _plain(getattr(row, column))
        if predicted is not None:
            with Image.open(image) as img:
                width, height = img.size
            rows = by_image.get(str(row.image))
            found = prediction_detections(rows, height, width, names) if rows is not None else []
            sample["predictions"] = fo.Detections(detections=found)
        samples.append(sample)
    return samples


def clip_samples(dataset_dir: Path, previews: Path | None, ranked: Path | None = None) -> list[Any]:
    """The restoration clips as FiftyOne video samples (see the module docstring): each
    plays its preview when ``previews`` (clip -> preview table) has one, else the clip; the
    review fields come from ``ranked`` when it exists."""
    import fiftyone as fo
    import pandas as pd

    index = pd.read_parquet(dataset_dir / "index.parquet")
    shown = {}
    if previews is not None:
        table = pd.read_parquet(previews)
        shown = dict(zip(table["clip"], table["preview"], strict=True))
    review = review_fields(ranked) if ranked is not None else {}
    samples = []
    for row in index.sort_values("clip").itertuples():
        clip = dataset_dir / str(row.clip_path)
        if not clip.is_file():
            continue  # a candidate that was dropped before its clip was written
        media = shown.get(str(row.clip), str(clip.resolve()))
        sample = fo.Sample(filepath=media, tags=[str(row.split), str(row.status)])
        sample["clip_path"] = str(clip.resolve())
        for column, field in CLIP_FIELDS.items():
            if column in index.columns:
                sample[field] = _plain(getattr(row, column))
        sheet = dataset_dir / "sheets" / f"{row.split}.png"
        sample["sheet"] = str(sheet.resolve()) if sheet.is_file() else None
        for field, value in review.get(str(row.clip), {}).items():
            sample[field] = value
        samples.append(sample)
    return samples


def build_datasets(
    results: Path, name: str, predictions: Path | None, previews: Path | None = None
) -> dict[str, Any]:
    """(Re)build the FiftyOne datasets of a results folder; returns them by short name.

    Raises:
        ValueError: naming the folder when it holds neither dataset.
    """
    import fiftyone as fo

    built: dict[str, Any] = {}
    sources = {
        "detection": (results / "detection_dataset", "samples.parquet"),
        "clips": (results / "restoration_dataset", "index.parquet"),
    }
    for short, (folder, marker) in sources.items():
        if not (folder / marker).is_file():
            continue
        full = f"{name}-{short}"
        if fo.dataset_exists(full):
            fo.delete_dataset(full)
        dataset = fo.Dataset(full)
        if short == "detection":
            dataset.add_samples(detection_samples(folder, predictions))
            dataset.default_mask_targets = {255: "mosaic"}
        else:
            ranked = results / "review" / "ranked.parquet"
            dataset.add_samples(clip_samples(folder, previews, ranked))
        dataset.persistent = True
        built[short] = dataset
    if not built:
        raise ValueError(
            f"{results}: no detection_dataset/samples.parquet or restoration_dataset/index.parquet"
            " (run the workflow first)"
        )
    return built


def summary(datasets: dict[str, Any]) -> dict[str, Any]:
    """Per dataset: its name, sample count, label fields and tag counts."""
    out = {}
    for short, dataset in datasets.items():
        schema = dataset.get_field_schema()
        out[short] = {
            "name": dataset.name,
            "samples": len(dataset),
            "fields": sorted(schema),
            "tags": dataset.count_sample_tags(),
            "media_type": dataset.media_type,
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Build the datasets, print their summary as JSON, then serve the App until stopped."""
    parser = argparse.ArgumentParser(prog="python -m mosaicflow.inspection.app")
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--name", default="mosaicflow")
    parser.add_argument("--predictions", type=Path)
    parser.add_argument("--previews", type=Path)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5151)
    parser.add_argument("--no-app", action="store_true", help="build and summarise, then exit")
    args = parser.parse_args(argv)
    results = args.results.resolve()
    try:
        database = _environment(results)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"mosaicflow inspect: error: {error}", file=sys.stderr)
        return 2
    import fiftyone as fo

    try:
        datasets = build_datasets(results, args.name, args.predictions, args.previews)
    except ValueError as error:
        print(f"mosaicflow inspect: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary(datasets), sort_keys=True), flush=True)
    if args.no_app:
        return 0
    first = datasets.get("detection") or next(iter(datasets.values()))
    session = fo.launch_app(first, address=args.address, port=args.port, remote=True)
    print(f"FiftyOne App: http://{args.address}:{args.port}/ (Ctrl-C stops it)", flush=True)
    session.wait(-1)
    if database is not None:
        database.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
