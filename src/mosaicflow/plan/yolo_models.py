"""The YOLO models' place in this workflow: the dataset each trains on, the weights it starts
from and the test items it is scored on, as paths under ``results/`` (:mod:`.paths`).

The model table itself (:data:`mosaicflow.yolo.models.MODELS`) holds no path: what a model is
and how it is scored is the package's; where its data lies is the workflow's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mosaicflow.plan import paths
from mosaicflow.yolo.models import model_kind


def _region_dataset(config: Mapping[str, Any]) -> str | None:
    """The YOLO-seg dataset built from labelme polygons, when there are any to train on."""
    return paths.REGION_DATASET if paths.region_labelme_dirs(config)["train"] else None


def _watermark_dataset(config: Mapping[str, Any]) -> str | None:
    """``source.watermark_dataset`` when given; else, by ``watermark_set.use``, the demo
    world's own set (``auto`` on the demo) or the set made from the source videos (rule
    ``build_watermark_dataset``; ``auto``: when the region segmenter cuts clips for the
    detector to analyse), or none (``never``)."""
    given = config["source"]["watermark_dataset"]
    if given:
        return given if config["source"]["kind"] != "demo" else paths.WORLD_WATERMARKS
    use = config["watermark_set"]["use"]
    if use == "never":
        return paths.WORLD_WATERMARKS if config["source"]["kind"] == "demo" else None
    if use == "auto" and config["source"]["kind"] == "demo":
        return paths.WORLD_WATERMARKS
    if use == "auto" and not has_model("region_seg", config):
        return None  # no clips are cut: nothing would read the detector
    return paths.WATERMARK_SET


def _detection_dataset(config: Mapping[str, Any]) -> str | None:
    """The mosaic detection dataset, when there are regions to pixelate: the demo truth
    (``detection_dataset.regions: truth``) or a region segmenter's inferred regions."""
    if config["detection_dataset"]["regions"] == "truth":
        return paths.DETECTION_DATASET if config["source"]["kind"] == "demo" else None
    return paths.DETECTION_DATASET if has_model("region_seg", config) else None


def mosaic_test_items(names: Sequence[str]) -> list[str]:
    """Held-out videos (by name) -> flat (video, truth, truth_json, ...) items of the same
    videos with mosaics on every frame (rule ``build_detection_testset``)."""
    out: list[str] = []
    for name in names:
        files = paths.detection_testset_files(name)
        out += [files["video"], files["truth"], files["truth_json"]]
    return out


#: Model name -> the dataset it trains on for a config (None: nothing to train on).
DATASETS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "region_seg": _region_dataset,
    "watermark": _watermark_dataset,
    "detector": _detection_dataset,
}


def model_dataset(name: str, config: Mapping[str, Any]) -> str | None:
    """The dataset model ``name`` trains on; None when ``weights`` are used as is or when there
    is nothing to train on."""
    kind = model_kind(name)
    if config[kind.section]["weights"] or not enabled(name, config):
        return None
    if name not in DATASETS:
        raise ValueError(f"no dataset is wired for YOLO model {name!r} (known: {sorted(DATASETS)})")
    return DATASETS[name](config)


def model_balance(name: str, config: Mapping[str, Any]) -> str | None:
    """The multipliers of the training images model ``name`` trains with: the detection
    images' weights with ``balance.detector`` for the mosaic detector, else None."""
    if name == "detector" and config["balance"]["detector"] and model_dataset(name, config):
        return paths.balance_files("detection")["weights"]
    return None


def model_init(name: str, config: Mapping[str, Any]) -> str | None:
    """The weights model ``name`` starts training from when the workflow makes them: this run's
    region segmenter (``detector.from_region_seg``) or, when the section names neither
    ``model`` nor ``pretrained``, the YOLO base of its task (rule ``convert_yolo_base``);
    None when it trains from ``model`` or ``pretrained`` or uses ``weights`` as is.

    Raises:
        ValueError: naming the keys when the start is set twice or its model does not exist.
    """
    kind = model_kind(name)
    start = start_kind(name, config)
    if start == "region_seg":
        if config[kind.section]["pretrained"]:
            raise ValueError(
                f"{kind.section}.from_region_seg and {kind.section}.pretrained both name a "
                f"starting point ({config[kind.section]['pretrained']}): set one of them"
            )
        if not has_model("region_seg", config):
            raise ValueError(
                f"{kind.section}.from_region_seg: this config has no region segmenter to start "
                "from (give regions.weights or labelme polygons)"
            )
        return paths.model_files("region_seg")["weights"]
    return paths.YOLO_BASES[kind.task] if start == "base" else None


def start_kind(name: str, config: Mapping[str, Any]) -> str:
    """How model ``name`` starts: ``weights`` (used as is), ``region_seg``, ``pretrained``,
    ``scratch`` (from ``model``) or ``base``."""
    section = config[model_kind(name).section]
    if section["weights"]:
        return "weights"
    if section.get("from_region_seg"):
        return "region_seg"
    if section["pretrained"]:
        return "pretrained"
    return "scratch" if section["model"] else "base"


def enabled(name: str, config: Mapping[str, Any]) -> bool:
    """Whether model ``name`` is wanted at all (a section's ``enabled: false`` turns it off)."""
    return bool(config[model_kind(name).section].get("enabled", True))


def has_model(name: str, config: Mapping[str, Any]) -> bool:
    """Whether model ``name`` is wanted and can be trained or is given."""
    if not enabled(name, config):
        return False
    return bool(config[model_kind(name).section]["weights"] or model_dataset(name, config))
