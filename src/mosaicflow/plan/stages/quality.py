"""Source quality (``quality.smk``): a classifier of degraded sources (blur, upscale, codec
damage) trained on each run's own frames, scoring every clip and detection sample; on the demo
world scored against the truth."""

from __future__ import annotations

from typing import Any

from mosaicflow import installed
from mosaicflow.config import canonical, without_runtime
from mosaicflow.plan import paths
from mosaicflow.plan.run import Run
from mosaicflow.plan.stages.frames import split_roles


def enabled(run: Run) -> bool:
    """``quality.enabled`` and a region segmenter (the classifier scores its clips)."""
    return run.facts.scores_quality


def outputs(run: Run) -> list[str]:
    """The classifier and its card (unless ``quality.weights`` is given) and, on the demo
    world, its scores against the truth."""
    files = [paths.QUALITY_MODEL, paths.QUALITY_CARD] if run.facts.trains_quality else []
    if run.facts.demo:
        files.append(paths.QUALITY_METRICS)
    return files


def metrics(run: Run) -> dict[str, str]:
    """The scores against the truth (demo world), else the card of a classifier trained here."""
    if run.facts.demo:
        return {"source_quality": paths.QUALITY_METRICS}
    return {"source_quality": paths.QUALITY_CARD} if run.facts.trains_quality else {}


def quality_videos(run: Run) -> tuple[list[str], list[str]]:
    """``(train, val)`` video ids of the classifier: the videos whose role is ``train`` and
    ``val``; without roles every video trains and the card is measured on them too."""
    roles = split_roles(run)
    if not roles:
        ids = list(run.videos)
        return ids, ids
    train = [vid for vid in run.videos if roles.get(vid) == "train"]
    val = [vid for vid in run.videos if roles.get(vid) == "val"]
    return train, val or train


# -- input and params functions of the rules (the clip and sample rules read the model too) ----
def quality_model(run: Run, wildcards: Any) -> dict[str, str]:
    """The classifier the clip and detection sample jobs run, when it is on:
    ``quality.weights`` or the one rule train_quality_classifier trains."""
    if not run.facts.scores_quality:
        return {}
    return {"quality": str(run.config["quality"]["weights"] or paths.QUALITY_MODEL)}


def quality_train_ids(run: Run, wildcards: Any) -> list[str]:
    """Ids of the videos the classifier trains on."""
    return quality_videos(run)[0]


def quality_val_ids(run: Run, wildcards: Any) -> list[str]:
    """Ids of the videos the classifier's card is measured on."""
    return quality_videos(run)[1]


def quality_training_input(run: Run, wildcards: Any) -> dict[str, Any]:
    """Videos and frame indexes of the classifier's training and card videos, and the user's
    own weights it starts from (``quality.init_weights``; shipped weights are a param only,
    :func:`quality_params`)."""
    train, val = quality_videos(run)
    inputs: dict[str, Any] = {
        "videos": [run.videos[vid].path for vid in train],
        "indexes": [paths.frames_files(vid)["index"] for vid in train],
        "val_videos": [run.videos[vid].path for vid in val],
        "val_indexes": [paths.frames_files(vid)["index"] for vid in val],
    }
    start = run.config["quality"]["init_weights"]
    if start and not installed.reference(start):
        inputs["init_weights"] = start
    return inputs


def quality_params(run: Run, wildcards: Any) -> dict[str, Any]:
    """The ``quality`` keys the training reads (its rule's params), without the speed settings;
    shipped start weights (``init_weights: base``) as a reference by place and content
    (:mod:`mosaicflow.installed`), so that a moved checkout reruns nothing."""
    section = dict(without_runtime(run.config["quality"], "quality"))
    if section.get("init_weights"):
        start = section["init_weights"]
        section["init_weights"] = installed.reference(start) or start
    return canonical(section)


def source_quality_eval_ids(run: Run, wildcards: Any) -> list[str]:
    """Ids of the demo world's videos with a role (the re-uploads have no truth of their
    own)."""
    return run.role_ids(["train", "val", "test"])


def source_quality_eval_input(run: Run, wildcards: Any) -> dict[str, Any]:
    """Clip manifests and truth JSONs of :func:`source_quality_eval_ids`, the card of a
    classifier trained here and the scene scores of the world's ``quality`` videos."""
    ids = source_quality_eval_ids(run, wildcards)
    inputs: dict[str, Any] = {
        "manifests": [paths.restoration_manifest(vid) for vid in ids],
        "truths": [paths.world_files(run.videos[vid].name)["truth_json"] for vid in ids],
    }
    if run.facts.trains_quality:
        inputs["card"] = paths.QUALITY_CARD
    if quality_scene_videos(run):
        inputs["scenes"] = paths.QUALITY_SCENES
    return inputs


def quality_scene_videos(run: Run) -> list[str]:
    """Names of the demo world's ``quality`` videos (none for the user's videos)."""
    return [spec.name for spec in run.specs if spec.role == "quality"]


def quality_scenes_input(run: Run, wildcards: Any) -> dict[str, Any]:
    """The ``quality`` videos, their truth JSONs and the classifier that scores them."""
    names = quality_scene_videos(run)
    return {
        "videos": [paths.world_files(name)["video"] for name in names],
        "truths": [paths.world_files(name)["truth_json"] for name in names],
        **quality_model(run, wildcards),
    }
