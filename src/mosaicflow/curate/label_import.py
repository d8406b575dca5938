"""Bring corrected labelme frames back (``mosaicflow review import-labels``): the frames rule
find_label_issues exported to ``results/review/labelme/``, edited in labelme, become overrides
of the region training set in ``results/review/label_overrides/``.

Every file of the edited folder is checked before anything is written: ``export.json`` must be
the finder's, every labelme file must be one it exported (another file is refused), its image
must be the exported image (same SHA-256: an export of another dataset, or a replaced image, is
refused), its ``imagePath`` must stay inside the folder, and the training frame it came from must
be unchanged since the export. A frame whose shapes or empty flag differ from its training frame
becomes an override (its labelme file and image copied in); ``overrides.json`` maps each training
frame to its override and counts, per import, the shapes ``moved``, ``added`` and ``deleted`` and
the frames ``changed``. A later import of the same frame replaces its override. An import that
changes nothing writes nothing, so the workflow sees no new input. An import holds the lock of
``results/review`` (shared with ``mosaicflow review import``: a second one fails at once, naming
the first) and replaces the overrides folder in one step (:func:`mosaicflow.io.atomic_dir`).

The region dataset reads the overrides in place of the frames they correct (rule
build_region_dataset), so the segmenter and what depends on it rerun, nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.curate.label_issue_jobs import EXPORT_VERSION
from mosaicflow.curate.label_issues import box_iou, shape_box
from mosaicflow.curate.label_overrides import OVERRIDES_FILE, override_paths, read_overrides
from mosaicflow.file_names import is_bare_name
from mosaicflow.formats.labelme import LabelmeFrame, LabelmeShape, read_labelme
from mosaicflow.io import atomic_dir, clean_stale, folder_lock, json_text, read_json, write_json

LOG = logging.getLogger(__name__)

#: Shapes of the same label whose boxes overlap at least this much are one shape (moved or not).
_MATCH_IOU = 0.3


class LabelImportError(ValueError):
    """A corrected labelme folder that cannot be imported; the message names the file."""


@dataclass(frozen=True)
class LabelImportResult:
    """What an import did: whether it wrote, the overrides' version, the counts of this import."""

    changed: bool
    version: int
    counts: dict[str, int]


def shape_changes(before: Sequence[LabelmeShape], after: Sequence[LabelmeShape]) -> dict[str, int]:
    """Shapes ``moved`` (matched, other points), ``added`` and ``deleted`` between two frames.

    Shapes of one label are matched greedily: first by box IoU (>= 0.3, best pairs first), then
    the shapes left on both sides by the distance of their box centres (a polygon dragged onto
    its target counts as moved, not as deleted and added).
    """
    boxes_before = [shape_box(s) for s in before]
    boxes_after = [shape_box(s) for s in after]

    def centre_distance(i: int, j: int) -> float:
        a, b = boxes_before[i], boxes_after[j]
        return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))

    same_label = [
        (i, j) for i, a in enumerate(before) for j, b in enumerate(after) if a.label == b.label
    ]
    overlap = box_iou(np.reshape(boxes_before, (-1, 4)), np.reshape(boxes_after, (-1, 4)))
    by_overlap = sorted((-float(overlap[i, j]), i, j) for i, j in same_label)
    by_distance = sorted((centre_distance(i, j), i, j) for i, j in same_label)
    used_before: set[int] = set()
    used_after: set[int] = set()
    moved = 0
    for _, i, j in [*(t for t in by_overlap if -t[0] >= _MATCH_IOU), *by_distance]:
        if i in used_before or j in used_after:
            continue
        used_before.add(i)
        used_after.add(j)
        a, b = before[i].polygon, after[j].polygon
        moved += int(a.shape != b.shape or not np.allclose(a, b, atol=1e-6))
    return {
        "moved": moved,
        "added": len(after) - len(used_after),
        "deleted": len(before) - len(used_before),
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path, labels: Sequence[str], empty_flag: str | None) -> LabelmeFrame:
    try:
        return read_labelme(path, labels, empty_flag)
    except ValueError as err:
        raise LabelImportError(str(err)) from err


_RECORD_KEYS = ("file", "source", "labels_file", "image_sha256", "labels_sha256")


def _check_export(folder: Path) -> dict[str, Any]:
    export_file = folder / "export.json"
    if not export_file.is_file():
        raise LabelImportError(f"{export_file}: not found (the folder is not a label-issue export)")
    try:
        export = read_json(export_file)
    except ValueError as err:
        raise LabelImportError(str(err)) from err
    if not isinstance(export, dict) or export.get("version") != EXPORT_VERSION:
        raise LabelImportError(f"{export_file}: not a label-issue export of this version")
    records = export.get("frames")
    if not isinstance(records, list) or not isinstance(export.get("labels"), list):
        raise LabelImportError(f"{export_file}: 'frames' and 'labels' must be lists")
    for k, record in enumerate(records):
        if not isinstance(record, dict) or not all(
            isinstance(record.get(key), str) for key in _RECORD_KEYS
        ):
            raise LabelImportError(
                f"{export_file}: frame record {k} must hold the strings {list(_RECORD_KEYS)}"
            )
    known = {r["file"] for r in records}
    for path in sorted(folder.glob("*.json")):
        if path.name != "export.json" and path.name not in known:
            raise LabelImportError(f"{path}: not one of the exported frames ({export_file})")
    return export


def _image_file(edited_path: Path, doc: Mapping[str, Any]) -> Path:
    """The image file an edited labelme file (parsed: ``doc``) names; labelme may also embed the
    image, re-encoded, in ``imageData``, but the file beside the JSON is the one exported."""
    from mosaicflow.formats.labelme import resolve_image_path

    try:
        image = resolve_image_path(edited_path, str(doc.get("imagePath") or ""))
    except ValueError as err:
        raise LabelImportError(str(err)) from err
    if not doc.get("imagePath") or not image.is_file():
        raise LabelImportError(
            f"{edited_path}: the image file its imagePath names is missing (keep the exported "
            "images beside the labelme files)"
        )
    return image


def _check_own_file(key: str, file: str, frames: Mapping[str, Any], edited: Path) -> None:
    """The override file of training frame ``key`` is no other frame's (two frames of one name
    in two folders would share it, and the dataset would refuse them anyway) and not the index.

    Raises:
        LabelImportError: naming both frames, or the file.
    """
    if file == OVERRIDES_FILE:
        raise LabelImportError(f"{edited}: a training frame named {key} cannot be overridden "
                               f"({OVERRIDES_FILE} is the overrides' index)")  # fmt: skip
    other = next((k for k, e in frames.items() if e["file"] == file and k != key), None)
    if other is not None:
        raise LabelImportError(
            f"{edited}: training frames {other} and {key} have one name ({file}); the region "
            "dataset takes each frame name once: rename one of them"
        )


def _bare_name(name: str, folder: Path) -> str:
    """``name`` when it is a file name alone (no folder, ``..`` or NUL), as an export lists its
    frames; else the export is refused."""
    if not is_bare_name(name):
        raise LabelImportError(
            f"{folder / 'export.json'}: frame file {name!r} is not a file name of that folder"
        )
    return name


def import_labels(folder: Path, overrides_dir: Path, run_dir: Path = Path()) -> LabelImportResult:
    """Check an edited export folder and merge its corrected frames into ``overrides_dir``.

    The labels and the empty flag are the export's (``regions.labels``, ``regions.empty_flag``
    of the run that wrote it). A frame corrected since the export (its override differs from
    what this folder would write) is refused: export again and correct the current labels.

    Args:
        folder: the edited copy of ``results/review/labelme/`` (or that folder itself).
        overrides_dir: ``results/review/label_overrides``.
        run_dir: the run's working directory (relative training frame paths start there).

    Raises:
        LabelImportError: naming the file, before anything is written.
        mosaicflow.io.LockHeldError: another import holds the lock of the overrides' parent.
    """
    folder, overrides_dir, run_dir = Path(folder), Path(overrides_dir), Path(run_dir)
    with folder_lock(overrides_dir.parent, "mosaicflow review import-labels"):
        clean_stale(overrides_dir.parent)  # restore overrides a killed replacement moved aside
        return _import_locked(folder, overrides_dir, run_dir)


def _import_locked(folder: Path, overrides_dir: Path, run_dir: Path) -> LabelImportResult:
    """:func:`import_labels` under the lock."""
    export = _check_export(folder)
    records, labels, empty_flag = export["frames"], export["labels"], export.get("empty_flag")
    try:
        previous = read_overrides(overrides_dir)
        current = override_paths(overrides_dir)
    except (ValueError, KeyError, TypeError) as err:
        raise LabelImportError(f"{overrides_dir / OVERRIDES_FILE}: malformed ({err})") from err
    frames = dict(previous["frames"])
    counts = {"frames": 0, "changed": 0, "moved": 0, "added": 0, "deleted": 0}
    contents: dict[str, tuple[bytes, bytes, str]] = {}
    for record in records:
        edited_path = folder / _bare_name(record["file"], folder)
        if not edited_path.is_file():
            raise LabelImportError(f"{edited_path}: missing (listed in {folder / 'export.json'})")
        edited = _read(edited_path, labels, empty_flag)  # checks the JSON and its paths
        edited_doc = read_json(edited_path)
        image_path = _image_file(edited_path, edited_doc)
        image_bytes = image_path.read_bytes()
        if _sha256(image_bytes) != record["image_sha256"]:
            raise LabelImportError(
                f"{edited_path}: its image {image_path.name} differs from the exported one (an "
                "export of another dataset, or a replaced image)"
            )
        key = record["source"]
        labels_path = run_dir / record["labels_file"]  # the frame, or its earlier override
        frame_or_override = {(run_dir / key).resolve()}
        if key in current:
            frame_or_override.add(current[key].resolve())
        if labels_path.resolve() not in frame_or_override:
            raise LabelImportError(
                f"{edited_path}: its labels_file {record['labels_file']} is neither its training "
                f"frame {key} nor that frame's override (an edited or foreign export)"
            )
        if not labels_path.is_file():
            raise LabelImportError(f"{edited_path}: its training frame {labels_path} is gone")
        if _sha256(labels_path.read_bytes()) != record["labels_sha256"]:
            raise LabelImportError(
                f"{edited_path}: its training frame {labels_path} changed since the export"
            )
        source = _read(labels_path, labels, empty_flag)
        counts["frames"] += 1
        change = shape_changes(source.shapes, edited.shapes)
        if not any(change.values()) and edited.empty_flag == source.empty_flag:
            continue
        stem = Path(key).stem
        image_file = f"{stem}{image_path.suffix}"
        doc = {**edited_doc, "imagePath": image_file, "imageData": None}
        text = json_text(doc).encode()
        entry = {"file": f"{stem}.json", "sha256": _sha256(text)}
        _check_own_file(key, entry["file"], frames, edited_path)
        if frames.get(key) == entry:
            continue  # imported before
        newer = current.get(key)
        if newer is not None and newer.resolve() != labels_path.resolve():
            raise LabelImportError(
                f"{edited_path}: {key} was corrected after this export ({newer}); export again"
            )
        frames[key] = entry
        contents[key] = (text, image_bytes, image_file)
        counts["changed"] += 1
        for name, value in change.items():
            counts[name] += value
    if not contents:
        LOG.info("%s: no change", folder)
        return LabelImportResult(False, int(previous["version"]), counts)

    version = int(previous["version"]) + 1
    with atomic_dir(overrides_dir) as tmp:
        if overrides_dir.is_dir():  # keep the earlier overrides
            for path in overrides_dir.iterdir():
                if path.name != OVERRIDES_FILE and path.is_file():
                    shutil.copy2(path, tmp / path.name)
        for source, (text, image, image_file) in contents.items():
            (tmp / frames[source]["file"]).write_bytes(text)
            (tmp / image_file).write_bytes(image)
        write_json(
            tmp / OVERRIDES_FILE,
            {
                "version": version,
                "frames": dict(sorted(frames.items())),
                "imports": [*previous["imports"], {"folder": str(folder), **counts}],
            },
        )
    return LabelImportResult(True, version, counts)
