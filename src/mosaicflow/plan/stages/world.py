"""The demo world (``world.smk``): its videos and re-uploads, labelme sets, watermark set and
contact sheet. Runs only when ``source.kind`` is ``demo``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mosaicflow.config import canonical
from mosaicflow.plan import paths
from mosaicflow.plan.run import Run


def enabled(run: Run) -> bool:
    """The source is the demo world."""
    return run.facts.demo


def outputs(run: Run) -> list[str]:
    """The contact sheet, the train and val labelme sets and the watermark set."""
    return [
        paths.WORLD_CONTACT_SHEET,
        paths.world_labelme_dir("train"),
        paths.world_labelme_dir("val"),
        paths.WORLD_WATERMARKS,
    ]


def world_items(specs: Sequence[Any], roles: Iterable[str]) -> list[str]:
    """Flat list (video, truth, truth_json, ...) of the world videos with the given roles."""
    wanted = set(roles)
    items: list[str] = []
    for spec in specs:
        if spec.role in wanted:
            files = paths.world_files(spec.name)
            items += [files["video"], files["truth"], files["truth_json"]]
    return items


def world_set_params_of(world: Mapping[str, Any]) -> dict[str, Any]:
    """The ``world`` section as the label-set rules see it: per-video overrides removed.

    A change to one video's parameters reaches the label sets through their input files, so it
    reruns them only when that video is one of their inputs. ``label_noise`` is left out: only
    the train labelme set reads it (:func:`label_noise_params`); so are the re-uploads, the
    degraded scenes and the faces, which act through the videos, and the count of ``quality``
    videos, which feed no label set.
    """
    roles = {k: v for k, v in world.get("roles", {}).items() if k != "quality"}
    return canonical(
        {
            **world,
            "roles": roles,
            "videos": {},
            "label_noise": {},
            "reuploads": {},
            "degraded": {},
            "faces": {},
        }
    )


# -- input and params functions of the rules ------------------------------------------------
def world_spec(run: Run, wildcards: Any) -> dict[str, Any]:
    """The resolved generation parameters of one demo-world video (rerun trigger)."""
    return run.world_spec(wildcards.name).to_dict()


def reupload_spec(run: Run, wildcards: Any) -> dict[str, Any]:
    """What one re-upload of the demo world is made of (rerun trigger)."""
    return run.reuploads[wildcards.reupload].to_dict()


def reupload_source(run: Run, wildcards: Any) -> dict[str, str]:
    """The video, truth masks and truth JSON of the world video a re-upload copies."""
    return paths.world_files(run.reuploads[wildcards.reupload].source)


def world_set_params(run: Run, wildcards: Any) -> dict[str, Any]:
    """World settings of the label sets, without per-video overrides (those act via inputs)."""
    return world_set_params_of(run.config["world"])


def label_noise_params(run: Run, wildcards: Any) -> dict[str, Any]:
    """The label errors the train labelme set gets (``world.label_noise``); none for val."""
    if wildcards.split != "train":
        return {}
    return canonical(run.config["world"].get("label_noise", {}))


def world_role_items(run: Run, wildcards: Any) -> list[str]:
    """Video, truth video and truth JSON of every world video feeding a labelme split."""
    from mosaicflow.world.specs import LABELME_SPLIT_ROLES

    return world_items(run.specs, LABELME_SPLIT_ROLES[wildcards.split])


def world_labelled_items(run: Run, wildcards: Any) -> list[str]:
    """Video, truth video and truth JSON of every train and val world video (watermarks)."""
    return world_items(run.specs, ["train", "val"])


def world_sample_items(run: Run, wildcards: Any) -> list[str]:
    """Video, truth video and truth JSON of every world video (contact sheet)."""
    return world_items(run.specs, ["train", "val", "test"])
