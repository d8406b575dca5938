"""Checks of a whole config that the schema cannot express, run once before any job.

Every section is built into the typed config its jobs build, so a value a job would refuse
(a range with its ends swapped, probabilities that sum over 1, an unknown nudenet class) is
refused before the first job instead of hours into the run; the YOLO trainings' arguments are
planned as their jobs plan them; and keys that contradict each other, or that the run would
ignore without a word, are named.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from mosaicflow.config import ConfigError, build

#: (dotted section, ``module:Class``, whole): the typed configs the rules build from a section,
#: from the whole section (``whole``, a rule's ``config_section``) or from the class's fields
#: (a rule's ``config_fields``).
SECTION_CONFIGS: tuple[tuple[str, str, bool], ...] = (
    ("mosaic", "mosaicflow.mosaic.config:MosaicConfig", True),
    ("tags", "mosaicflow.datasets.tags:TagsConfig", True),
    ("censor", "mosaicflow.datasets.censor:CensorConfig", True),
    ("detection_dataset", "mosaicflow.datasets.detection.config:DetectionSamplingConfig", False),
    ("restoration_dataset", "mosaicflow.datasets.clips.config:ClipCuttingConfig", False),
    ("restoration_dataset.split", "mosaicflow.datasets.clips.config:SplitConfig", True),
    ("regions", "mosaicflow.yolo.config:RegionsInferConfig", False),
    ("regions", "mosaicflow.yolo.config:RegionsPrelabelConfig", False),
    ("review", "mosaicflow.curate.config:ClipSignalsConfig", False),
    ("review", "mosaicflow.curate.config:ReviewConfig", True),
    ("duplicates", "mosaicflow.curate.config:DuplicatesConfig", True),
    ("label_issues", "mosaicflow.curate.label_issues:LabelIssuesConfig", True),
    ("quality", "mosaicflow.quality.config:QualityConfig", True),
    ("watermark_set", "mosaicflow.datasets.watermarks:WatermarkSetConfig", True),
    ("evaluate", "mosaicflow.evaluation.config:EvaluateConfig", True),
    ("evaluate", "mosaicflow.evaluation.config:EvaluationRestoreConfig", False),
)


def check_config(config: Mapping[str, Any]) -> list[str]:
    """Refuse what the jobs of ``config`` would refuse, before any job runs.

    Args:
        config: the validated config, defaults filled (:func:`mosaicflow.config.validate_config`).

    Returns:
        Warnings to print: keys the run ignores for a reason the user may not expect.

    Raises:
        ConfigError: naming the key and the value.
    """
    from mosaicflow.plan.run import RunFacts

    for dotted, target, whole in SECTION_CONFIGS:
        _build_section(config, dotted, target, whole)
    _check_frames(config)
    _check_tags(config)
    try:
        facts = RunFacts.of(config)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    _check_yolo_trainings(config, facts.trained_models)
    _check_contradictions(config)
    if facts.trains_restorer:
        _check_restorer_start(config)
    return list(_ignored_keys(config))


def _lookup(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def _build_section(config: Mapping[str, Any], dotted: str, target: str, whole: bool) -> Any:
    """Build ``target`` from the section as its rules do (and return it); name the section on
    an error."""
    module, name = target.split(":")
    cls = getattr(importlib.import_module(module), name)
    section = _lookup(config, dotted)
    if not whole:
        section = {f.name: section[f.name] for f in dataclasses.fields(cls)}
    try:
        return build(cls, section)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        text = str(err)
        raise ConfigError(text if dotted in text else f"config section '{dotted}': {text}") from err


def _check_frames(config: Mapping[str, Any]) -> None:
    """The frame parameters as the frame extraction resolves them."""
    from mosaicflow.video.frames import mpdecimate_params

    frames = _build_section(config, "frames", "mosaicflow.video.config:FramesConfig", True)
    try:
        mpdecimate_params(frames.mpdecimate)
    except ValueError as err:
        raise ConfigError(f"config key 'frames.mpdecimate': {err}") from err


def _check_tags(config: Mapping[str, Any]) -> None:
    """The nudenet classes of ``tags.classes``, which the taggers check when they load."""
    tags = config["tags"]
    if tags.get("enabled") and tags.get("classes"):
        from mosaicflow.nudenet import check_labels

        try:
            check_labels(tags["classes"], "config key 'tags.classes'")
        except ValueError as err:
            raise ConfigError(str(err)) from err


@cache
def ultralytics_arguments() -> frozenset[str]:
    """The training arguments ultralytics knows (the keys of its ``cfg/default.yaml``), read
    without importing it; empty when it is not installed."""
    from mosaicflow.io import load_yaml

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    default = Path(next(iter(spec.submodule_search_locations))) / "cfg" / "default.yaml"
    return frozenset(load_yaml(default.read_text())) if default.is_file() else frozenset()


def _check_yolo_trainings(config: Mapping[str, Any], trained: Iterable[str]) -> None:
    """Plan the arguments of each YOLO model ``trained`` here as its training job plans them."""
    from mosaicflow.plan.yolo_models import model_init
    from mosaicflow.yolo.models import model_kind, train_job

    known = ultralytics_arguments()
    for name in trained:
        section = model_kind(name).section
        try:
            model_init(name, config)
            args = train_job(name, config).train_args()
        except ValueError as err:
            text = str(err)
            raise ConfigError(text if section in text else f"{section}: {text}") from err
        if int(args["batch"]) < 1:
            raise ConfigError(f"{section}.batch: a positive number of images; got {args['batch']}")
        unknown = sorted(set(config[section].get("overrides") or {}) - known) if known else []
        if unknown:
            raise ConfigError(
                f"{section}.overrides: {unknown} are not ultralytics training arguments "
                "(see ultralytics' cfg/default.yaml)"
            )


def _check_contradictions(config: Mapping[str, Any]) -> None:
    """Keys whose combination no run can honour."""
    demo = config["source"]["kind"] == "demo"
    train, val = config["source"].get("labelme_train"), config["source"].get("labelme_val")
    if train and val and os.path.realpath(train) == os.path.realpath(val):
        raise ConfigError(
            f"config keys 'source.labelme_train' and 'source.labelme_val' are one folder "
            f"({train}): validation frames must be others than the training frames; give a "
            "second folder, or leave labelme_val unset to hold out whole videos of the train folder"
        )
    for section in ("detection_dataset", "restoration_dataset"):
        if config[section]["regions"] == "truth" and not demo:
            raise ConfigError(
                f"config key '{section}.regions': 'truth' needs source.kind 'demo' (only the "
                "demo world has ground-truth regions); use 'inferred' on your videos"
            )
    if not config["quality"]["enabled"]:
        for key, value in (
            ("detection_dataset.min_source_quality", config["detection_dataset"].get(
                "min_source_quality")),
            ("restoration_dataset.filters.min_source_quality",
             config["restoration_dataset"]["filters"].get("min_source_quality")),
        ):  # fmt: skip
            if value:
                raise ConfigError(
                    f"config key '{key}': {value} needs the source-quality classifier "
                    "(quality.enabled: true); without it no clip or frame has a score to compare"
                )


def _check_restorer_start(config: Mapping[str, Any]) -> None:
    """The shipped restorer base fits only the network it was trained as (for a run whose
    stage 1 trains)."""
    from mosaicflow.installed import RESOURCES
    from mosaicflow.io import read_json

    restoration = config["restoration"]
    start = restoration.get("init_weights")
    base = RESOURCES / "restorer-base" / "generator.pth"
    if not start or not base.is_file() or Path(start).resolve() != base.resolve():
        return
    card = read_json(base.parent / "card.json")["restorer"]
    wanted = {key: card[key] for key in ("mid_channels", "num_blocks", "hr_skip")}
    given = {key: restoration[key] for key in wanted}
    if given != wanted:
        differ = ", ".join(f"{key} {given[key]} (the base: {wanted[key]})" for key in wanted
                           if given[key] != wanted[key])  # fmt: skip
        raise ConfigError(
            f"config key 'restoration.init_weights': the restorer base ({base}) fits only "
            f"its own network, and restoration sets {differ}; set init_weights: random (or a "
            "generator of that shape), or the base's values"
        )


def _ignored_keys(config: Mapping[str, Any]) -> Iterator[str]:
    """Keys this config sets that the run will not use."""
    source = config["source"]
    demo = source["kind"] == "demo"
    for section in ("watermark", "regions", "detector"):
        if config[section].get("enabled") is False and config[section].get("weights"):
            yield f"{section}.weights is not used: {section}.enabled is false"
    if not demo and not config["regions"]["weights"]:
        from mosaicflow.plan.paths import region_labelme_dirs

        if not region_labelme_dirs(config)["train"]:
            given_val = " (source.labelme_val alone is not used)" if source.get(
                "labelme_val") else ""  # fmt: skip
            yield (
                "no region segmenter: neither source.labelme_train nor regions.weights is "
                f"given{given_val}, so only the frames are extracted; no dataset or model is built"
            )
    mpdecimate = config["frames"]["mpdecimate"]
    if mpdecimate.get("preset"):
        from mosaicflow.video.mpdecimate import MpdecimateParams

        defaults = MpdecimateParams()
        set_here = [key for key in ("hi", "lo", "frac")
                    if mpdecimate.get(key) != getattr(defaults, key)]  # fmt: skip
        if set_here:
            keys = "/".join(set_here)
            yield (
                f"frames.mpdecimate.{keys} not used: frames.mpdecimate.preset "
                f"{mpdecimate['preset']!r} sets them (preset: null uses your values)"
            )
