"""The mosaic detector's classes that a restore acts on.

Censored faces and heads are a class of their own in two-class detectors (mosaicflow's
``mosaic_face``, Lada's ``mosaic_sfw_head``) and are left as they are by default; the detector's
threshold and test scores count the classes a restore acts on.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Detector classes of censored faces and heads, left alone unless asked for.
FACE_CLASSES = ("mosaic_face", "mosaic_sfw_head")


def restored_by_default(names: Mapping[int, str]) -> dict[int, str]:
    """The classes restored without ``--classes``: every class but :data:`FACE_CLASSES`
    (every class when the model has only those)."""
    chosen = {int(i): str(n) for i, n in names.items() if n not in FACE_CLASSES}
    return chosen or {int(i): str(n) for i, n in names.items()}


def classes_kwargs(names: Mapping[int, str], chosen: Mapping[int, str]) -> dict[str, list[int]]:
    """Ultralytics' ``classes=`` keyword for the ``chosen`` classes of a model with ``names``;
    empty when they are every class (a one-class detector predicts as it always did)."""
    return {"classes": sorted(chosen)} if len(chosen) < len(names) else {}


def restored_kwargs(model: object) -> dict[str, list[int]]:
    """:func:`classes_kwargs` of a YOLO model's restored classes (:func:`restored_by_default`)."""
    names = {int(i): str(n) for i, n in dict(getattr(model, "names", {}) or {}).items()}
    return classes_kwargs(names, restored_by_default(names))


def face_class(names: Mapping[int, str]) -> int | None:
    """The index of a model's face class (:data:`FACE_CLASSES`), None without one."""
    found = [int(i) for i, n in names.items() if n in FACE_CLASSES]
    return min(found) if found else None


def truth_categories(names: Mapping[int, str]) -> tuple[int, int]:
    """The 1-based COCO categories a two-class truth maps to in a model with ``names``: its
    regions to the model's first class that is not a face, its faces to the face class (the
    region category as well when the model has no face class)."""
    face = face_class(names)
    others = sorted(int(i) for i in names if int(i) != face)
    region = (others[0] if others else int(face or 0)) + 1
    return region, (face + 1 if face is not None else region)


def faces_left_alone(names: Mapping[int, str], restored: Mapping[int, str] | None = None) -> bool:
    """Whether a restore with a detector of ``names`` leaves face mosaics as they are: the
    detector has a face class and it is not among the ``restored`` classes (default:
    :func:`restored_by_default`). A detector without a face class restores every mosaic."""
    chosen = restored_by_default(names) if restored is None else restored
    face = face_class(names)
    return face is not None and face not in chosen
