"""What the shipped bases' cards record (``resources/restorer-base/``,
``resources/quality-base/``): the configs a base was trained with, layered as Snakemake layers
them, and the world it was trained on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mosaicflow.config import REPO_ROOT
from mosaicflow.io import load_yaml

#: The config files ``make restorer-base`` and ``make quality-base`` layer, in order.
CONFIGS = (REPO_ROOT / "config" / "config.yaml", REPO_ROOT / "config" / "pretrain.yaml")


def merged_config(files: Sequence[Path]) -> dict[str, Any]:
    """The files' configs layered in order as Snakemake layers ``--configfile`` (later keys
    win, sections merge), validated."""
    from snakemake.utils import update_config

    from mosaicflow.config import validate_config

    config: dict[str, Any] = {}
    for path in files:
        update_config(config, load_yaml(Path(path).read_text(encoding="utf-8")) or {})
    validate_config(config)
    return config


def config_files(configs: Sequence[Path]) -> dict[str, Any]:
    """``{file name: its config as written}`` of the config files, for a card."""
    return {Path(p).name: load_yaml(Path(p).read_text(encoding="utf-8")) for p in configs}


def world_videos(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Name, role and seed of every video of a config's world."""
    from mosaicflow.config import build
    from mosaicflow.world import video_specs
    from mosaicflow.world.config import WorldConfig

    specs = video_specs(build(WorldConfig, config["world"]), config["seed"])
    return [{"name": s.name, "role": s.role, "seed": s.seed} for s in specs]
