"""Rule ``build_detection_dataset``: the per-video samples -> the YOLO-seg detection dataset.

Layout of the output folder (replaced atomically)::

    {train,val,test}/images/<video>-<frame>.png   the images
    {train,val,test}/masks/<same>.png             mosaic masks (0/255)
    {train,val,test}/face_masks/<same>.png        face mosaic masks (with faces only)
    {train,val,test}/labels/<same>.txt            YOLO-seg labels (class 0 = mosaic, or
                                                  mosaic_region and 1 = mosaic_face)
    coco/{train,val,test}.json                    COCO instances, checked with pycocotools
    samples.parquet                               one row per image (see :func:`sample_rows`)
    data.yaml                                     absolute paths, the class names
    provenance.json                               config/code/input hashes, counts, drops

Checks before the folder appears: pycocotools round trip of every COCO file, ultralytics'
``verify_image_label`` on every pair and its ``check_det_dataset`` on ``data.yaml``.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mosaicflow.datasets.detection.build import read_manifest
from mosaicflow.datasets.detection.config import DetectionDatasetConfig
from mosaicflow.datasets.detection.labels import check_coco, check_yolo, class_names
from mosaicflow.datasets.detection.split import SPLITS, split_samples
from mosaicflow.io import atomic_dir, write_parquet, write_text

log = logging.getLogger(__name__)

#: Each class's mask folder in a split, in class order (the face class's only with faces).
MASK_FOLDERS = ("masks", "face_masks")


@dataclass(frozen=True)
class DetectionDatasetResult:
    """Counts of the written dataset."""

    out_dir: Path
    counts: dict[str, int]


def _yaml(root: Path, splits: Sequence[str], names: Sequence[str]) -> str:
    from mosaicflow.formats.dataset import data_yaml_text

    return data_yaml_text(root, splits, names)


def build_detection_dataset(
    cfg: DetectionDatasetConfig,
    manifests: Sequence[Path],
    sample_dirs: Sequence[Path],
    out_dir: Path,
    *,
    roles: Mapping[str, str] | None,
    seed: int,
    code: str,
    config_dir: Path,
    threads: int = 1,
    groups: Mapping[str, str] | None = None,
    duplicates: Mapping[str, str] | None = None,
) -> DetectionDatasetResult:
    """Split the samples by video, write COCO and YOLO labels, check them, write data.yaml.

    Args:
        cfg: the ``detection_dataset`` config.
        manifests: per-video manifests (``build_detection_samples``).
        sample_dirs: the matching per-video sample folders (same order).
        out_dir: ``results/detection_dataset`` (replaced atomically).
        roles: video id -> demo world role (the split follows it), or None (fractions).
        seed: the config's seed.
        code: the rule's code hash (provenance).
        config_dir: ultralytics' config folder for its dataset check (under ``results/``).
        threads: CPU threads for ultralytics.
        groups: video id -> duplicate group (one split per group).
        duplicates: dropped video id -> the video it duplicates: its samples are left out
            (counted as ``dropped:duplicate``).

    Samples below ``cfg.min_source_quality`` are left out (``dropped:source_quality``).

    Returns:
        Counts per split.

    Raises:
        ValueError: naming the file for a malformed manifest, a missing image or a label that
            fails a check.
    """
    from mosaicflow.provenance import provenance, write_provenance
    from mosaicflow.yolo.adapter import prepare_ultralytics
    from mosaicflow.yolo.spec import plain

    if len(manifests) != len(sample_dirs):
        raise ValueError(f"{len(manifests)} manifests but {len(sample_dirs)} sample folders")
    samples, dropped, folders = _collect_samples(cfg, manifests, sample_dirs, duplicates)
    splits = split_samples(samples, cfg.split, roles=roles, seed=seed, groups=groups)
    prepare_ultralytics(config_dir, threads)
    out_dir = Path(out_dir)
    counts: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    names = class_names(cfg.faces.enabled)
    with atomic_dir(out_dir) as tmp:
        (tmp / "coco").mkdir()
        for split in SPLITS:
            rows += _write_split(tmp, split, splits.get(split, []), folders, counts, names)
        present = [s for s in SPLITS if counts[f"{s}_images"]]
        if "train" not in present or "val" not in present:
            raise ValueError(
                f"{out_dir}: the detection dataset needs train and val images, got {counts} "
                "(config keys 'detection_dataset.split' / 'world.roles')"
            )
        _check_ultralytics(tmp, present, names)
        write_parquet(tmp / SAMPLES_TABLE, pd.DataFrame(rows, columns=SAMPLE_COLUMNS))
        write_text(tmp / "data.yaml", _yaml(out_dir, present, names))
        record = provenance(
            config=plain(cfg),
            code=code,
            inputs={f"manifest:{Path(m).stem}": m for m in manifests},
            counts={**counts, **{f"dropped:{k}": v for k, v in sorted(dropped.items())}},
            extra={"names": list(names), "splits": {
                s: sorted({m["video"] for m in splits.get(s, [])}) for s in SPLITS
            }},
        )  # fmt: skip
        write_provenance(tmp / "provenance.json", record)
    log.info("detection dataset: %s, dropped %s", counts, dropped)
    return DetectionDatasetResult(out_dir, counts)


def _collect_samples(
    cfg: DetectionDatasetConfig,
    manifests: Sequence[Path],
    sample_dirs: Sequence[Path],
    duplicates: Mapping[str, str] | None,
) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, Path]]:
    """The samples the dataset keeps, the drop counts per reason and each video's folder."""
    samples: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    folders: dict[str, Path] = {}
    for manifest, folder in zip(manifests, sample_dirs, strict=True):
        data = read_manifest(Path(manifest))
        folders[data["video"]] = Path(folder)
        if data["video"] in (duplicates or {}):
            dropped["duplicate"] = dropped.get("duplicate", 0) + len(data["samples"])
            continue
        for sample in data["samples"]:
            quality = sample.get("source_quality")
            limit = cfg.min_source_quality
            if limit is not None and quality is not None and quality < limit:
                dropped["source_quality"] = dropped.get("source_quality", 0) + 1
                continue
            samples.append({**sample, "video": data["video"]})
        for drop in data["dropped"]:
            reason = drop["reason"].split(" (")[0].split(" of frame")[0].split(":")[0]
            dropped[reason] = dropped.get(reason, 0) + 1
    return samples, dropped, folders


def _write_split(
    tmp: Path,
    split: str,
    members: Sequence[Mapping[str, Any]],
    folders: Mapping[str, Path],
    counts: dict[str, int],
    names: Sequence[str],
) -> list[dict[str, Any]]:
    """Write one split (files, checked COCO and YOLO labels, counts); returns its sample rows.
    With two classes the faces' masks come from each video's ``face_masks/``."""
    from mosaicflow.formats.coco import coco_to_yolo, masks_to_coco

    rows: list[dict[str, Any]] = []
    subs = ("images", *MASK_FOLDERS[: len(names)])
    for sub in subs:
        (tmp / split / sub).mkdir(parents=True)
    images, masks = tmp / split / "images", tmp / split / "masks"
    for sample in members:
        src = folders[sample["video"]]
        for sub in subs:
            path = src / sub / f"{sample['stem']}.png"
            if not path.is_file() and sub == "face_masks":
                raise ValueError(
                    f"{path}: no face mask; config key 'detection_dataset.faces.enabled' is "
                    "true but the samples were built without faces"
                )
            if not path.is_file():
                raise ValueError(f"{path}: sample listed in the manifest is missing")
            shutil.copyfile(path, tmp / split / sub / path.name)
        rows.append(sample_row(sample, split, masks / f"{sample['stem']}.png"))
    labels = tmp / split / "labels"
    coco_json = tmp / "coco" / f"{split}.json"
    if members:
        folders = [tmp / split / sub for sub in MASK_FOLDERS[: len(names)]]
        masks_to_coco(masks, list(names), coco_json, image_dir=images, folders=folders)
        counts[f"{split}_instances"] = check_coco(coco_json, folders, names)
        coco_to_yolo(coco_json, names, tmp / split / "_yolo", task="segment")
        (tmp / split / "_yolo" / "labels").rename(labels)
        shutil.rmtree(tmp / split / "_yolo")
        check_yolo(images, labels, names)
    else:
        labels.mkdir()
    counts[f"{split}_images"] = len(members)
    counts[f"{split}_positives"] = sum(bool(s["positive"]) for s in members)
    counts[f"{split}_videos"] = len({s["video"] for s in members})
    return rows


#: The per-image table of the dataset folder.
SAMPLES_TABLE = "samples.parquet"
#: Its columns: the image (``split/images/<stem>.png``), where it comes from, what it shows.
SAMPLE_COLUMNS = [
    "image", "split", "video", "stem", "frame", "kind", "positive", "mosaics", "mosaic_px",
    "block_size", "source_quality", "tags", "tag",
]  # fmt: skip


def sample_row(sample: Mapping[str, Any], split: str, mask_png: Path) -> dict[str, Any]:
    """One image's row of ``samples.parquet``: its mosaics (those over regions and a random
    one), ``mosaic_px`` (the square root of the mosaicked area, in pixels) and ``block_size``
    (the largest block side of its mosaics, in pixels; 0 without a mosaic) and
    ``source_quality`` (the source frame's P(clean), NaN without the classifier); ``tags`` and
    ``tag``: the nudenet classes inside its regions (:func:`~mosaicflow.datasets.tags.tag_fields`;
    empty strings when not tagged)."""
    from mosaicflow.datasets.tags import tag_fields
    from mosaicflow.formats.masks import read_mask

    drawn = [m for m in sample.get("mosaics") or [] if m.get("drawn", True)]
    extra = sample.get("random_mosaic")
    if extra and extra.get("drawn"):
        drawn.append(extra)
    blocks = [max(int(m["block_w"]), int(m["block_h"])) for m in drawn]
    return {
        "image": f"{split}/images/{sample['stem']}.png",
        "split": split,
        "video": sample["video"],
        "stem": sample["stem"],
        "frame": int(sample["frame"]),
        "kind": sample["kind"],
        "positive": bool(sample["positive"]),
        "mosaics": len(drawn),
        "mosaic_px": round(math.sqrt(int(read_mask(mask_png).sum())), 2),
        "block_size": max(blocks, default=0),
        "source_quality": float(sample.get("source_quality", float("nan"))),
        **tag_fields(sample.get("tags")),
    }


def _check_ultralytics(root: Path, splits: Sequence[str], names: Sequence[str]) -> None:
    """Ultralytics' own dataset check on a data.yaml of the (temporary) folder."""
    from ultralytics.data.utils import check_det_dataset

    probe = root / ".check-data.yaml"
    write_text(probe, _yaml(root, splits, names))
    try:
        info = check_det_dataset(str(probe), autodownload=False)
    except Exception as err:  # ultralytics raises FileNotFoundError, SyntaxError, ...
        raise ValueError(f"{root}: ultralytics' dataset check failed: {err}") from err
    finally:
        probe.unlink(missing_ok=True)
    if info.get("nc") != len(names):
        raise ValueError(f"{root}: ultralytics reads {info.get('nc')} classes")
