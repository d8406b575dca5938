"""Target paths of the workflow: what `rule all` builds and what each aggregate reads.

The paths come from :mod:`mosaicflow.workflow.paths`, the contract of design.md's "Paths" table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mosaicflow.config import canonical
from mosaicflow.regions.models import MODELS, has_model
from mosaicflow.workflow import paths
from mosaicflow.workflow.paths import (
    frames_files,
    model_files,
    region_files,
    region_labelme_dirs,
    world_files,
    world_labelme_dir,
)
from mosaicflow.workflow.sources import SourceVideo

WORLD_NAME_PATTERN = r"world-(?:train|val|test|label)-[0-9][0-9]+"


def world_specs(config: Mapping[str, Any]) -> list[Any]:
    """Video specs of the demo world, or none when the source is the user's videos."""
    if config["source"]["kind"] != "demo":
        return []
    from mosaicflow.config import build
    from mosaicflow.world import video_specs
    from mosaicflow.world.config import WorldConfig

    return list(video_specs(build(WorldConfig, config["world"]), config["seed"]))


def world_spec(specs: Sequence[Any], name: str) -> Any:
    """The spec of the world video called ``name``."""
    for spec in specs:
        if spec.name == name:
            return spec
    raise KeyError(f"no demo-world video named {name}")


def world_set_params(world: Mapping[str, Any]) -> dict[str, Any]:
    """The ``world`` section as the label-set rules see it: per-video overrides removed.

    A change to one video's parameters reaches the label sets through their input files, so it
    reruns them only when that video is one of their inputs.
    """
    return canonical({**world, "videos": {}})


def world_items(specs: Sequence[Any], roles: Iterable[str]) -> list[str]:
    """Flat list (video, truth, truth_json, ...) of the world videos with the given roles."""
    wanted = set(roles)
    paths: list[str] = []
    for spec in specs:
        if spec.role in wanted:
            files = world_files(spec.name)
            paths += [files["video"], files["truth"], files["truth_json"]]
    return paths


def group_items(paths: Sequence[str]) -> list[tuple[str, str, str]]:
    """Regroup a flat (video, truth, truth_json, ...) list into triples."""
    if len(paths) % 3:
        raise ValueError("world items come in (video, truth, truth_json) triples")
    return [tuple(paths[i : i + 3]) for i in range(0, len(paths), 3)]  # type: ignore[misc]


def labelme_split_roles(split: str) -> tuple[str, ...]:
    """The world roles whose videos feed ``split`` (train or val) of the labelme set."""
    from mosaicflow.world.specs import LABELME_SPLIT_ROLES

    return LABELME_SPLIT_ROLES[split]


def labelled_splits(paths: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
    """Group a flat world item list into train and val by each video's role (a label video
    counts as train, see :func:`labelme_split_roles`).

    Raises:
        ValueError: a video whose role feeds no split (a test video) or a name that is not a
            world video's.
    """
    by_role = {role: split for split in ("train", "val") for role in labelme_split_roles(split)}
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "val": []}
    for item in group_items(paths):
        name = Path(item[0]).stem
        match = re.fullmatch(r"world-([a-z]+)-[0-9]{2,}", name)
        if match is None or match.group(1) not in by_role:
            raise ValueError(f"{item[0]}: not a train, val or label video of the demo world")
        splits[by_role[match.group(1)]].append(item)
    return splits


def region_test_items(config: Mapping[str, Any], specs: Sequence[Any]) -> list[str]:
    """Video, truth video and truth JSON of the demo's test videos (none for user videos)."""
    return world_items(specs, ["test"]) if config["source"]["kind"] == "demo" else []


def region_outputs(config: Mapping[str, Any], videos: Iterable[SourceVideo]) -> list[str]:
    """The region stage's targets: every YOLO model that can be trained or is given (files and
    metrics), and with a region segmenter the per-video regions, their summary, the prelabels."""
    outputs: list[str] = []
    for name in MODELS:
        if has_model(name, config):
            outputs += list(model_files(name).values())
    if has_model("region_seg", config):
        outputs += [region_files(video.id)["regions"] for video in videos]
        outputs.append(paths.REGION_SUMMARY)
        if config["regions"]["prelabel_frames"] > 0:
            outputs.append(paths.PRELABEL_DIR)
    return outputs


def final_outputs(
    config: Mapping[str, Any], videos: Iterable[SourceVideo], specs: Sequence[Any]
) -> list[str]:
    """Everything the default target builds, for the current config."""
    outputs: list[str] = []
    if config["source"]["kind"] == "demo":
        outputs += [
            paths.WORLD_CONTACT_SHEET,
            world_labelme_dir("train"),
            world_labelme_dir("val"),
            paths.WORLD_WATERMARKS,
        ]
    if region_labelme_dirs(config)["train"]:
        outputs.append(paths.REGION_DATASET)
    videos = list(videos)
    outputs += [frames_files(video.id)["index"] for video in videos]
    outputs.append(paths.REJECTED)
    outputs += region_outputs(config, videos)
    return outputs
