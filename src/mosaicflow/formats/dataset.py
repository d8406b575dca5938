"""labelme folders -> ultralytics-ready YOLO datasets.

Layout written (atomically: built in a temporary sibling folder and swapped in)::

    out_dir/
      train/images/<stem>.<ext>   train/labels/<stem>.txt
      val/images/...              val/labels/...
      data.yaml                   absolute paths and the class names
      provenance.json             config hash, code hash, input hashes, counts, split summary,
                                  the pre-flight's figures and warnings

Every labelme file is read and validated before anything is written, so a bad file fails the
whole conversion (naming the file) and leaves any previous output untouched. The output folder
is refused when it overlaps an input folder or holds files of anything but an earlier
conversion (:func:`mosaicflow.outputs.claim_output_dir`): it is replaced as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mosaicflow.formats.labelme import LabelmeFrame, list_labelme, read_labelme
from mosaicflow.formats.preflight import Preflight, preflight
from mosaicflow.formats.splits import frame_group, split_by_group, split_summary
from mosaicflow.formats.yolo import det_line, label_text, seg_line
from mosaicflow.io import atomic_dir, write_bytes, write_text
from mosaicflow.outputs import claim_output_dir, mark_output_dir
from mosaicflow.provenance import provenance, tree_hash, write_provenance

log = logging.getLogger(__name__)

TASKS = ("segment", "detect")
#: The command whose outputs these are (named by the output folder's marker).
COMMAND = "convert labelme-to-yolo"


@dataclass(frozen=True)
class DatasetResult:
    """Outcome of a labelme -> YOLO conversion.

    Attributes:
        out_dir: the dataset folder.
        data_yaml: its ``data.yaml`` (None for a single-folder conversion).
        provenance: the provenance sidecar.
        counts: per split: ``images``, ``empty`` (images without targets), ``instances``,
            ``ignored`` (shapes of other labels or on empty-flagged frames).
        splits: per split: the source labelme files, in order.
        preflight: the pre-flight's figures per split and its warnings
            (:meth:`mosaicflow.formats.preflight.Preflight.record`).
    """

    out_dir: Path
    data_yaml: Path | None
    provenance: Path
    counts: dict[str, dict[str, int]]
    splits: dict[str, list[Path]] = field(repr=False)
    preflight: dict[str, Any] = field(default_factory=dict, repr=False)


def frame_label_lines(frame: LabelmeFrame, task: str = "segment") -> list[str]:
    """YOLO lines of a parsed labelme frame (empty for empty-flagged frames)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    lines = []
    for k, shape in enumerate(frame.shapes):
        try:
            if task == "segment":
                lines.append(seg_line(shape.class_id, shape.polygon, frame.width, frame.height))
            else:
                lines.append(det_line(shape.class_id, shape.polygon, frame.width, frame.height))
        except ValueError as err:
            raise ValueError(f"{frame.json_path}: target shape #{k}: {err}") from err
    return lines


def read_labelme_dirs(
    dirs: Sequence[Path],
    labels: Sequence[str],
    empty_flag: str | None,
    overrides: Mapping[str, Path] | None = None,
) -> list[tuple[str, LabelmeFrame]]:
    """Every labelme frame of ``dirs`` (files sorted per folder), parsed and checked, as
    ``(file as listed, frame)``; a file named in ``overrides`` is read from its replacement (same
    stem, so the frame keeps its name and source video).

    Raises:
        ValueError: naming a folder without labelme files, or the file that is invalid.
    """
    overrides = overrides or {}
    frames = []
    for folder in dirs:
        files = list_labelme(Path(folder))
        if not files:
            raise ValueError(f"{folder}: no labelme JSON files")
        frames += [
            (str(f), read_labelme(overrides.get(str(f), f), labels, empty_flag)) for f in files
        ]
    return frames


def _applied_overrides(sources: Sequence[str], overrides: Mapping[str, Path] | None) -> int:
    """How many ``overrides`` name one of the ``sources`` read; the others are logged (a
    correction for a frame that is no longer in the set)."""
    unmatched = sorted(set(overrides or {}) - set(sources))
    if unmatched:
        log.warning("%d label overrides match no labelme file: %s", len(unmatched), unmatched[:5])
    return len(set(overrides or {}) & set(sources))


def _check_unique(frames: Sequence[LabelmeFrame]) -> None:
    seen: dict[str, Path] = {}
    for frame in frames:
        stem = frame.json_path.stem
        if stem in seen:
            raise ValueError(
                f"{frame.json_path}: same file name as {seen[stem]}; output names would collide"
            )
        seen[stem] = frame.json_path


def _write_split(root: Path, frames: Sequence[LabelmeFrame], task: str) -> dict[str, int]:
    counts = {"images": 0, "empty": 0, "instances": 0, "ignored": 0}
    for frame in frames:
        lines = frame_label_lines(frame, task)
        stem = frame.json_path.stem
        write_bytes(root / "images" / f"{stem}{frame.image_suffix}", frame.image_bytes)
        write_text(root / "labels" / f"{stem}.txt", label_text(lines))
        counts["images"] += 1
        counts["empty"] += not lines
        counts["instances"] += len(lines)
        counts["ignored"] += frame.ignored
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    return counts


def data_yaml_text(out_dir: Path, splits: Sequence[str], names: Sequence[str]) -> str:
    """Content of an ultralytics ``data.yaml`` with absolute paths (``out_dir`` made absolute)."""
    root = Path(out_dir).absolute()
    doc: dict[str, Any] = {"path": str(root)}
    for split in splits:
        doc[split] = str(root / split / "images")
    doc["nc"] = len(names)
    doc["names"] = {i: name for i, name in enumerate(names)}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _check_dataset_args(labels: Sequence[str], task: str) -> None:
    """Refuse an empty or repeated label list and an unknown task."""
    if not labels:
        raise ValueError("at least one label is needed")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be unique, got {list(labels)}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def _frame_video(frame: LabelmeFrame) -> str:
    """The source video of a frame: the group a split keeps whole."""
    return frame_group(frame.json_path)


def _has_targets(frame: LabelmeFrame) -> bool:
    """Whether a frame has target shapes: the stratum of the split."""
    return bool(frame.shapes)


def _split_frames(
    train: list[LabelmeFrame],
    val: list[LabelmeFrame],
    *,
    held_out: bool,
    val_fraction: float,
    seed: int,
) -> dict[str, list[LabelmeFrame]]:
    """The ``train`` and ``val`` frames, ``val`` held out of ``train`` by video if ``held_out``."""
    if held_out:
        parts = split_by_group(
            train,
            _frame_video,
            fractions={"train": 1.0 - val_fraction, "val": val_fraction},
            seed=seed,
            stratify_key=_has_targets,
        )
        train, val = parts["train"], parts["val"]
    overlap = {_frame_video(f) for f in train} & {_frame_video(f) for f in val}
    if overlap and held_out:  # cannot happen: split_by_group keeps groups whole
        raise AssertionError(f"videos in both splits: {sorted(overlap)}")
    if overlap:
        log.warning("videos in both train and val folders: %s", sorted(overlap)[:10])
    return {"train": train, "val": val}


def _run_preflight(
    splits: Mapping[str, Sequence[LabelmeFrame]],
    train_dirs: Sequence[Path],
    val_dirs: Sequence[Path],
    labels: Sequence[str],
    val_fraction: float | None,
    strict: bool,
) -> Preflight:
    """Pre-flight the labelled set and log its figures and warnings."""
    check = preflight(
        splits, train_dirs, val_dirs, labels=labels, val_fraction=val_fraction, strict=strict
    )
    for line in check.lines():
        log.info("labelled set %s", line)
    for warning in check.warnings:
        log.warning(warning)
    return check


def _write_splits(
    tmp: Path,
    out_dir: Path,
    splits: Mapping[str, Sequence[LabelmeFrame]],
    labels: Sequence[str],
    task: str,
) -> dict[str, dict[str, int]]:
    """Mark ``tmp`` as this command's output, write each split and data.yaml; the counts."""
    mark_output_dir(tmp, COMMAND)
    counts = {name: _write_split(tmp / name, frames, task) for name, frames in splits.items()}
    write_text(tmp / "data.yaml", data_yaml_text(out_dir, list(splits), labels))
    return counts


def _dataset_config(
    labels: Sequence[str], empty_flag: str | None, seed: int, val_fraction: float | None, task: str
) -> dict[str, Any]:
    """The conversion settings recorded as the provenance's config."""
    return {
        "labels": list(labels),
        "empty_flag": empty_flag,
        "seed": seed,
        "val_fraction": val_fraction,
        "task": task,
    }


def _dataset_provenance(
    config: dict[str, Any],
    *,
    code: str,
    counts: Mapping[str, Mapping[str, int]],
    labels: Sequence[str],
    train_dirs: Sequence[Path],
    val_dirs: Sequence[Path],
    sources: Sequence[str],
    overrides: Mapping[str, Path] | None,
    splits: Mapping[str, Sequence[LabelmeFrame]],
    check: Preflight,
) -> dict[str, Any]:
    """The provenance record of a dataset: config, counts, inputs, split and pre-flight."""
    source_files = [f.json_path for f in [*splits["train"], *splits["val"]]]
    return provenance(
        config=config,
        code=code,
        counts={f"{s}_{k}": v for s, c in counts.items() for k, v in c.items()},
        extra={
            "kind": "yolo_dataset",
            "names": list(labels),
            "sources": {
                "train_dirs": [str(Path(d).absolute()) for d in train_dirs],
                "val_dirs": [str(Path(d).absolute()) for d in val_dirs],
            },
            "input_tree_hash": tree_hash(source_files, root=None),
            "overrides": _applied_overrides(sources, overrides),
            "split": split_summary(splits, _frame_video, _has_targets),
            "videos": {s: sorted({_frame_video(f) for f in fr}) for s, fr in splits.items()},
            "preflight": check.record(),
        },
    )


def labelme_to_yolo_dataset(
    train_dirs: Sequence[Path],
    val_dirs: Sequence[Path],
    labels: Sequence[str],
    out_dir: Path,
    seed: int,
    *,
    empty_flag: str | None = "sfw",
    val_fraction: float = 0.2,
    task: str = "segment",
    code: str = "",
    overrides: Mapping[str, Path] | None = None,
    strict: bool = False,
) -> DatasetResult:
    """Build an ultralytics-ready dataset from labelme folders.

    Before anything is written, a pre-flight (:func:`mosaicflow.formats.preflight.preflight`)
    counts each split's frames, instances, empty frames, videos and image sizes, logs them and
    what is thin about the set, and records them in the provenance (``preflight``).

    Args:
        train_dirs: labelme folders of the training split.
        val_dirs: labelme folders of the validation split. When empty, the train files are
            split by source video (:func:`~mosaicflow.formats.splits.frame_group`), seeded and
            stratified by empty / non-empty, with ``val_fraction`` of the files in val.
        labels: target labels; class ids follow this order (``names`` in data.yaml).
        out_dir: the dataset folder (replaced atomically; new, empty or an earlier output).
        seed: seed of the split (recorded in the provenance either way).
        empty_flag: labelme image flag marking frames without targets.
        val_fraction: fraction of files in val when ``val_dirs`` is empty.
        task: ``segment`` (polygons) or ``detect`` (boxes).
        code: the rule's code hash, recorded in the provenance.
        overrides: labelme file (as listed from its folder) -> the reviewed file replacing it
            (``mosaicflow review import-labels``).
        strict: refuse a set no model can train on or be scored on (a split without frames,
            no labelled instance in train or in val), naming the folder; else the pre-flight
            only warns.

    Returns:
        The :class:`DatasetResult` with counts per split.

    Raises:
        ValueError: naming the file for any invalid labelme file, duplicate file names, or an
            empty label list; naming the output folder when it may not be replaced; naming the
            labelme folder for a set no model can train on (``strict``).
    """
    _check_dataset_args(labels, task)
    inputs = [*train_dirs, *val_dirs, *(overrides or {}).values()]
    out_dir = claim_output_dir(out_dir, COMMAND, inputs).absolute()
    read = {
        split: read_labelme_dirs(dirs, labels, empty_flag, overrides)
        for split, dirs in (("train", train_dirs), ("val", val_dirs))
    }
    train = [frame for _, frame in read["train"]]
    val = [frame for _, frame in read["val"]]
    _check_unique(train + val)
    splits = _split_frames(train, val, held_out=not val_dirs, val_fraction=val_fraction, seed=seed)
    check = _run_preflight(
        splits, train_dirs, val_dirs, labels, None if val_dirs else val_fraction, strict
    )
    with atomic_dir(out_dir) as tmp:
        counts = _write_splits(tmp, out_dir, splits, labels, task)
        config = _dataset_config(labels, empty_flag, seed, None if val_dirs else val_fraction, task)
        record = _dataset_provenance(
            config,
            code=code,
            counts=counts,
            labels=labels,
            train_dirs=train_dirs,
            val_dirs=val_dirs,
            sources=[source for pairs in read.values() for source, _ in pairs],
            overrides=overrides,
            splits=splits,
            check=check,
        )
        write_provenance(tmp / "provenance.json", record)
    log.info("wrote YOLO dataset %s: %s", out_dir, counts)
    return DatasetResult(
        out_dir,
        out_dir / "data.yaml",
        out_dir / "provenance.json",
        counts,
        {s: [f.json_path for f in fr] for s, fr in splits.items()},
        check.record(),
    )


def labelme_to_yolo(
    src_dir: Path,
    labels: Sequence[str],
    out_dir: Path,
    *,
    empty_flag: str | None = "sfw",
    task: str = "segment",
) -> dict[str, int]:
    """Convert one labelme folder to ``out_dir/{images,labels}`` (atomically).

    Args:
        src_dir: the labelme folder.
        labels: target labels (class ids follow this order).
        out_dir: output folder (replaced atomically; new, empty or an earlier output).
        empty_flag: labelme image flag marking frames without targets.
        task: ``segment`` or ``detect``.

    Returns:
        Counts: ``images``, ``empty``, ``instances``, ``ignored``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    out_dir = claim_output_dir(out_dir, COMMAND, [src_dir])
    frames = [frame for _, frame in read_labelme_dirs([Path(src_dir)], labels, empty_flag)]
    _check_unique(frames)
    with atomic_dir(out_dir) as tmp:
        mark_output_dir(tmp, COMMAND)
        counts = _write_split(tmp, frames, task)
    return counts
