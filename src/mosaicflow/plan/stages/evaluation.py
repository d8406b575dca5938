"""Evaluation (``evaluation.smk``): held-out videos pixelated over their truth, restored by the
trained detector and restorer and scored against the originals; the training curves of the
models this run trains; ``results/metrics.json`` of every stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mosaicflow.plan import paths
from mosaicflow.plan.run import RESTORATION_CURVE, HeldOutVideo, Run


def enabled(run: Run) -> bool:
    """Always: at least ``results/metrics.json`` is gathered."""
    return True


def evaluation_names(run: Run) -> list[str]:
    """Names of the videos the evaluation restores and scores (:meth:`Run.evaluated`)."""
    return [held.name for held in run.evaluated()]


def curve_models(run: Run) -> list[str]:
    """Models trained by this run (given weights have no curve): the YOLO models with a
    dataset, and the restorer unless ``restoration.weights`` is given."""
    names = list(run.facts.trained_models)
    if run.facts.trains_restorer:
        names.append(RESTORATION_CURVE)
    return names


def outputs(run: Run) -> list[str]:
    """The restored test videos and their scores, the training curves of the models this run
    trains, and ``results/metrics.json``."""
    files: list[str] = []
    names = evaluation_names(run)
    for name in names:
        files += list(paths.evaluate_files(name).values())
    if names:
        files += [
            paths.EVALUATE_METRICS,
            paths.EVALUATE_TABLE,
            paths.EVALUATE_SIDE_BY_SIDE,
            paths.EVALUATE_GRID,
        ]
    files += [paths.training_curve(model) for model in curve_models(run)]
    files.append(paths.METRICS)
    return files


def metrics(run: Run) -> dict[str, str]:
    """The evaluation's scores, when it scores a video."""
    return {"evaluate": paths.EVALUATE_METRICS} if evaluation_names(run) else {}


def evaluation_items(held: Sequence[HeldOutVideo]) -> dict[str, list[str]]:
    """The inputs of the evaluation, one list per kind, in the order of ``held``."""
    names = [h.name for h in held]
    return {
        "originals": [h.video for h in held],
        "mosaics": [paths.detection_testset_files(n)["video"] for n in names],
        "truths": [paths.detection_testset_files(n)["truth"] for n in names],
        "truth_jsons": [paths.detection_testset_files(n)["truth_json"] for n in names],
        "restored": [paths.evaluate_files(n)["video"] for n in names],
        "masks": [paths.evaluate_files(n)["masks"] for n in names],
        "summaries": [paths.evaluate_files(n)["summary"] for n in names],
    }


def curve_record(model: str) -> str:
    """What a model's curve is plotted from: its ``train.json`` or the restoration card."""
    if model == RESTORATION_CURVE:
        return paths.restoration_files()["model_json"]
    return paths.model_files(model)["train_json"]


# -- input and params functions of the rules ------------------------------------------------
def restore_test_video_input(run: Run, wildcards: Any) -> dict[str, Any]:
    """A mosaicked test video, the mosaic detector with its card (its threshold) and the
    restorer (with its card when this run exports it)."""
    inputs = {
        "video": paths.detection_testset_files(wildcards.name)["video"],
        "detector": paths.model_files("detector")["weights"],
        "detector_card": paths.model_files("detector")["model_json"],
        "restorer": run.facts.restorer,
    }
    if not run.config["restoration"]["weights"]:
        inputs["card"] = paths.restoration_files()["model_json"]
    return inputs


def restore_detector_params(run: Run, wildcards: Any) -> dict[str, Any]:
    """The ``detector`` section's inference keys the restore run uses (its threshold comes
    from the detector's card)."""
    from mosaicflow.inference.detector import DetectorSettings

    return DetectorSettings.params(run.config["detector"])


def evaluated_names(run: Run, wildcards: Any) -> list[str]:
    """The videos the evaluation scores (``evaluate.roles``)."""
    return evaluation_names(run)


def evaluation_input(run: Run, wildcards: Any) -> dict[str, Any]:
    """Originals, mosaicked inputs, truths and restore runs of the evaluated videos, and the
    card of the restorer this run trains (its validation chose the blur baseline's sigma)."""
    items: dict[str, Any] = evaluation_items(run.evaluated())
    if not run.config["restoration"]["weights"]:
        items["restorer_card"] = paths.restoration_files()["model_json"]
    return items


def training_curve_input(run: Run, wildcards: Any) -> str:
    """The training record a model's curve is plotted from."""
    return curve_record(wildcards.curve)


def training_curve_work(run: Run, wildcards: Any) -> str | None:
    """A YOLO model's work folder root (its run folder holds results.csv); None otherwise."""
    return None if wildcards.curve == RESTORATION_CURVE else paths.work_root(wildcards.curve)


def gather_metrics_input(run: Run, wildcards: Any) -> dict[str, str]:
    """Stage name -> metrics file (or dataset folder) of every stage of this run."""
    from mosaicflow.plan.stages import metrics_files

    return metrics_files(run)
