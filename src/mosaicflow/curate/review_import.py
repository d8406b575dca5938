"""Bring review verdicts back (``mosaicflow review import``): Label Studio exports ->
``results/review/verdicts.parquet``.

Label Studio's JSON export (tasks with ``annotations``) and its JSON-MIN export (flat rows) are
read. A task's verdict is the ``verdict`` choice (``keep``/``drop``) of its most recently
updated annotation that was not cancelled; tasks without one are skipped. Every clip id must be
a clip of the current dataset and its ``clip_sha256`` the hash of the current clip file: an
export made for another dataset, or before the clips were rebuilt, is refused with an error
naming the file and the clip, and nothing is written.

The verdicts merge into the table (a later import wins for a clip); ``verdicts.json`` beside it
holds the version and, per import that changed something, the counts (``kept``: new keep
verdicts, ``dropped``: new drop verdicts, ``changed``: verdicts that flipped, ``unchanged``).
An import that changes nothing writes nothing, so the workflow sees no new input. Imports hold
the lock of ``results/review`` (a second one fails at once, naming the first) and commit the
table and ``verdicts.json`` as one transaction (:func:`mosaicflow.io.atomic_files`: a journal
decides the commit; the next import, or the next write into the folder, finishes one that a
kill interrupted). The clip index reads the table: a clip with a drop verdict leaves the
training data with the reason ``review`` (rule index_restoration_dataset).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mosaicflow.curate.review_export import CHOICE_NAME, clip_sha256
from mosaicflow.curate.verdicts import DROP, KEEP, VERDICT_COLUMNS, read_verdicts
from mosaicflow.io import (
    atomic_files,
    clean_stale,
    folder_lock,
    read_json,
    write_json,
    write_parquet,
)

LOG = logging.getLogger(__name__)

VERDICTS_VERSION = 1


class ReviewImportError(ValueError):
    """A verdict file that cannot be imported; the message names it."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    changed: bool
    version: int
    counts: dict[str, int]
    verdicts: pd.DataFrame


def _choice(value: Any, where: str) -> str | None:
    """``keep``/``drop`` from a choices value (a string, a list, or ``{"choices": [...]}``)."""
    if isinstance(value, Mapping):
        value = value.get("choices")
    if isinstance(value, list):
        if len(value) != 1:
            raise ReviewImportError(f"{where}: expected one '{CHOICE_NAME}' choice, got {value}")
        value = value[0]
    if value is None:
        return None
    if value not in (KEEP, DROP):
        raise ReviewImportError(f"{where}: verdict {value!r} is neither {KEEP!r} nor {DROP!r}")
    return str(value)


def _id_key(value: Any) -> tuple[int, float, str]:
    """Annotation ids in order: numbers by value, then any other id by its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, "" if value is None else str(value))


def _annotation_verdict(task: Mapping[str, Any], where: str) -> str | None:
    given = task.get("annotations") or []
    if not isinstance(given, list):
        raise ReviewImportError(f"{where}: 'annotations' is a list of annotations")
    for annotation in given:
        if not isinstance(annotation, Mapping) or not isinstance(annotation.get("result"), list):
            raise ReviewImportError(f"{where}: an annotation without a result list")
    annotations = [a for a in given if not a.get("was_cancelled")]
    if not annotations:
        return None
    latest = max(annotations, key=lambda a: (str(a.get("updated_at", "")), _id_key(a.get("id"))))
    for item in latest["result"]:
        if isinstance(item, Mapping) and item.get("from_name") == CHOICE_NAME:
            return _choice(item.get("value"), where)
    names = sorted({str(i.get("from_name")) for i in latest["result"] if isinstance(i, Mapping)})
    raise ReviewImportError(
        f"{where}: its latest annotation has no {CHOICE_NAME!r} choice"
        + (f" (it has {names})" if names else " (its result is empty)")
        + f": the labelling config of mosaicflow's review export names its choices {CHOICE_NAME!r}"
    )


def read_label_studio(path: Path) -> list[dict[str, str]]:
    """The verdicts of one Label Studio export (JSON or JSON-MIN).

    Returns:
        ``{"clip", "verdict", "clip_sha256", "source"}`` per answered task.

    Raises:
        ReviewImportError: malformed JSON, a task without ``clip``/``clip_sha256``, a verdict
            that is not keep/drop, or a clip listed twice (names the file and the task).
    """
    try:
        tasks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReviewImportError(f"{path}: not a Label Studio JSON export ({err})") from err
    if not isinstance(tasks, list):
        raise ReviewImportError(f"{path}: a Label Studio export is a JSON list of tasks")
    out: dict[str, dict[str, str]] = {}
    unanswered = 0
    for number, task in enumerate(tasks):
        where = f"{path} (task {number})"
        if not isinstance(task, Mapping):
            raise ReviewImportError(f"{where}: a task is a JSON object")
        data = task.get("data", task)
        if not isinstance(data, Mapping) or not data.get("clip") or not data.get("clip_sha256"):
            raise ReviewImportError(
                f"{where}: no clip/clip_sha256: not a task of mosaicflow's review export"
            )
        verdict = (
            _annotation_verdict(task, where)
            if "annotations" in task
            else _choice(task.get(CHOICE_NAME), where)
        )
        if verdict is None:
            unanswered += 1
            continue
        clip = str(data["clip"])
        if clip in out:
            raise ReviewImportError(f"{where}: clip {clip} has two tasks in one export")
        out[clip] = {
            "clip": clip,
            "verdict": verdict,
            "clip_sha256": str(data["clip_sha256"]),
            "source": Path(path).name,
        }
    if unanswered:
        LOG.warning("%s: %d of its %d tasks have no verdict yet (not answered, or cancelled); "
                    "left out", path, unanswered, len(tasks))  # fmt: skip
    return list(out.values())


def export_files(sources: Iterable[Path]) -> list[Path]:
    """The JSON files of the given files and folders (a folder's ``*.json``, sorted)."""
    files: list[Path] = []
    for source in sources:
        source = Path(source)
        if source.is_dir():
            files += sorted(p for p in source.glob("*.json") if p.is_file())
        elif source.is_file():
            files.append(source)
        else:
            raise ReviewImportError(f"{source}: no such file or folder")
    if not files:
        raise ReviewImportError(f"no JSON export among {[str(s) for s in sources]}")
    return files


def check_against_dataset(
    verdicts: Sequence[Mapping[str, str]], dataset_dir: Path, where: Mapping[str, Path]
) -> None:
    """Every clip must exist in the dataset's index with the same file hash.

    Args:
        verdicts: the imported rows.
        dataset_dir: ``results/restoration_dataset``.
        where: source file name -> path (for messages).

    Raises:
        ReviewImportError: an unknown clip or a clip whose file changed (names the export).
    """
    from mosaicflow.datasets.clips.index import read_index

    index = read_index(Path(dataset_dir) / "index.parquet").set_index("clip")
    hashes: dict[str, str] = {}
    for row in verdicts:
        source = where[row["source"]]
        clip = row["clip"]
        if clip not in index.index or not index.loc[clip, "clip_path"]:
            raise ReviewImportError(
                f"{source}: clip {clip} is not a clip of {dataset_dir} (an export of another "
                "dataset?)"
            )
        if clip not in hashes:
            hashes[clip] = clip_sha256(Path(dataset_dir) / index.loc[clip, "clip_path"])
        if hashes[clip] != row["clip_sha256"]:
            raise ReviewImportError(
                f"{source}: clip {clip} was reviewed on another version of the clip (hash "
                f"{row['clip_sha256'][:12]}, now {hashes[clip][:12]}): export the review again"
            )


def merge_verdicts(
    old: pd.DataFrame, new: Sequence[Mapping[str, str]]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Merge imported rows into the table; count what changed."""
    table = {str(r["clip"]): dict(r) for r in old.to_dict("records")}
    counts = {"kept": 0, "dropped": 0, "changed": 0, "unchanged": 0}
    for row in new:
        before = table.get(row["clip"])
        if before is None:
            counts["kept" if row["verdict"] == KEEP else "dropped"] += 1
        elif before["verdict"] != row["verdict"]:
            counts["changed"] += 1
        else:
            counts["unchanged"] += 1
        if before is None or before["verdict"] != row["verdict"]:
            table[row["clip"]] = dict(row)
        elif before["clip_sha256"] != row["clip_sha256"]:
            table[row["clip"]] = {**before, "clip_sha256": row["clip_sha256"]}
    frame = pd.DataFrame(list(table.values()), columns=list(VERDICT_COLUMNS))
    frame = frame.astype(VERDICT_COLUMNS).sort_values("clip", kind="stable")
    return frame.reset_index(drop=True), counts


def import_review(sources: Sequence[Path], review_dir: Path, dataset_dir: Path) -> ImportResult:
    """Import Label Studio exports into ``review_dir/verdicts.parquet``.

    Args:
        sources: export files or folders of them.
        review_dir: ``results/review``.
        dataset_dir: ``results/restoration_dataset``.

    Raises:
        ReviewImportError: a file that cannot be imported (nothing is written then).
        mosaicflow.io.LockHeldError: another import holds the lock of ``review_dir``.
    """
    files = export_files(sources)
    names = {f.name: f for f in files}
    if len(names) != len(files):
        raise ReviewImportError(f"two exports share a file name: {[str(f) for f in files]}")
    rows: list[dict[str, str]] = []
    for path in files:
        rows += read_label_studio(path)
    check_against_dataset(rows, dataset_dir, names)
    rows = _one_verdict_per_clip(rows, names)
    with folder_lock(review_dir, "mosaicflow review import"):
        return _merge_import(rows, sorted(names), Path(review_dir))


def _one_verdict_per_clip(
    rows: list[dict[str, str]], files: Mapping[str, Path]
) -> list[dict[str, str]]:
    """The rows with each clip once; two exports that give one clip two verdicts are refused
    (naming both files), one verdict given twice is counted once."""
    first: dict[str, dict[str, str]] = {}
    for row in rows:
        seen = first.setdefault(row["clip"], row)
        if seen["verdict"] != row["verdict"]:
            raise ReviewImportError(
                f"clip {row['clip']}: {files[seen['source']]} says {seen['verdict']!r} and "
                f"{files[row['source']]} says {row['verdict']!r}; import the exports that agree, "
                "or the newer one alone"
            )
    return list(first.values())


def _read_state(path: Path) -> dict[str, Any]:
    """The import record ``verdicts.json`` (version 0 before the first import)."""
    if not path.exists():
        return {"version": 0, "imports": []}
    try:
        state = read_json(path)
    except (OSError, ValueError) as err:
        raise ReviewImportError(f"{path}: unreadable import record ({err})") from err
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("version"), int)
        or not isinstance(state.get("imports"), list)
    ):
        raise ReviewImportError(
            f"{path}: malformed import record (a version number and a list of imports); "
            "restore it from a backup, or delete it with verdicts.parquet to start again"
        )
    return state


def _merge_import(rows: list[dict[str, str]], files: list[str], review_dir: Path) -> ImportResult:
    """Merge checked rows into the table and its record (under the lock)."""
    clean_stale(review_dir)  # finish a commit a killed import decided
    table_path = Path(review_dir) / "verdicts.parquet"
    state_path = Path(review_dir) / "verdicts.json"
    old = read_verdicts(table_path)
    state = _read_state(state_path)
    merged, counts = merge_verdicts(old, rows)
    changed = not merged.equals(old.astype(VERDICT_COLUMNS).reset_index(drop=True))
    version = int(state["version"])
    if changed:
        version += 1
        entry = {"version": version, "files": files, "counts": counts}
        state = {
            "version": version,
            "format": VERDICTS_VERSION,
            "imports": [*state["imports"], entry],
        }
        with atomic_files(table_path, state_path) as (table_tmp, state_tmp):
            write_parquet(table_tmp, merged)
            write_json(state_tmp, state)
    LOG.info("%s verdicts version %d: %s", "new" if changed else "unchanged", version, counts)
    return ImportResult(changed, version, counts, merged)
