"""The YOLO models (``yolo.smk``; the table :data:`mosaicflow.yolo.models.MODELS`): the bases
they start from, one training and one scoring rule over ``{model}``, for every model the run
trains or is given."""

from __future__ import annotations

from typing import Any

from mosaicflow import installed
from mosaicflow.plan import paths, yolo_models
from mosaicflow.plan.folder_inputs import yolo_set_files
from mosaicflow.plan.run import Run
from mosaicflow.plan.stages.world import world_items
from mosaicflow.yolo import bases, models
from mosaicflow.yolo.models import MODELS, model_kind


def enabled(run: Run) -> bool:
    """The run has a YOLO model."""
    return bool(run.facts.models)


def outputs(run: Run) -> list[str]:
    """Every file of every model the run has (weights, export, card, metrics, curves)."""
    files: list[str] = []
    for name in MODELS:
        if name in run.facts.models:
            files += list(paths.model_files(name).values())
    return files


def metrics(run: Run) -> dict[str, str]:
    """Each model's metrics file."""
    return {name: paths.model_files(name)["metrics"] for name in MODELS if name in run.facts.models}


def test_items(run: Run, name: str) -> list[str]:
    """The test items (video, truth, truth_json, ...) of model ``name``: for the mosaic
    detector the test videos with mosaics drawn over their truth (the demo's, or the user's
    over the regions the segmenter infers); for the other models the demo's test videos (user
    videos have no truth to score a segmenter or watermark detector against)."""
    if model_kind(name).calibrate is None:
        return world_items(run.specs, ["test"]) if run.facts.demo else []
    return yolo_models.mosaic_test_items([h.name for h in run.held_out(["test"])])


# -- input and params functions of the rules ------------------------------------------------
def yolo_base_source(run: Run, wildcards: Any) -> dict[str, str] | None:
    """The ONNX export the YOLO bases are converted from, when it ships with the installation
    (nudenet's): a reference by place and content (:mod:`mosaicflow.installed`), else None."""
    onnx = bases.base_source(run.config["yolo_base"]["onnx"])
    return installed.reference(onnx, bases.NUDENET_PACKAGE)


def yolo_base_input(run: Run, wildcards: Any) -> dict[str, str]:
    """The ONNX export as an input when it is the user's own file (``yolo_base.onnx``; a
    missing one fails naming the key); an installed one is the ``source`` param instead."""
    if yolo_base_source(run, wildcards):
        return {}
    return {"onnx": str(bases.base_source(run.config["yolo_base"]["onnx"]))}


def train_model_input(run: Run, wildcards: Any) -> dict[str, Any]:
    """A model's dataset (a user's own folder with its files, so that a file edited in place
    retrains it), unless its ``weights`` are used as is, the weights it starts from when the
    workflow makes them (the YOLO base, or ``detector.from_region_seg``) and its training
    images' multipliers (``balance.detector``)."""
    dataset = yolo_models.model_dataset(wildcards.model, run.config)
    if not dataset:
        return {}
    inputs: dict[str, Any] = {"dataset": dataset}
    if not run.facts.demo and dataset == run.config["source"]["watermark_dataset"]:
        inputs["dataset_files"] = yolo_set_files(dataset)
    init = yolo_models.model_init(wildcards.model, run.config)
    if init:
        inputs["init"] = init
    balance = yolo_models.model_balance(wildcards.model, run.config)
    if balance:
        inputs["balance"] = balance
    return inputs


def train_model_start(run: Run, wildcards: Any) -> str:
    """How a model starts (base, region_seg, pretrained, scratch or weights), for its card."""
    return yolo_models.start_kind(wildcards.model, run.config)


def train_model_params(run: Run, wildcards: Any) -> dict[str, Any]:
    """The keys of a model's section that training reads (not its inference keys): the fields
    of its training job, which the rule's script builds (:func:`~mosaicflow.yolo.models.
    train_job_of`)."""
    return models.train_params(wildcards.model, run.config)


def train_model_work(run: Run, wildcards: Any) -> str:
    """The root of a model's training state folders (``results/<model>/_work``)."""
    return paths.work_root(wildcards.model)


def evaluate_model_params(run: Run, wildcards: Any) -> dict[str, Any]:
    """The keys of a model's section that its test scorer reads: the fields of its test job,
    which the rule's script builds (:func:`~mosaicflow.yolo.models.test_job_of`)."""
    return models.evaluate_params(wildcards.model, run.config)


def evaluate_model_work(run: Run, wildcards: Any) -> str:
    """Scratch folder of a model's evaluation (ultralytics' settings)."""
    return paths.scratch_dir(wildcards.model, "evaluate")


def model_test_items(run: Run, wildcards: Any) -> list[str]:
    """A model's test videos with truth (:func:`test_items`)."""
    return test_items(run, wildcards.model)


def model_calibration(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """The extra videos of a model's evaluation (none for the models without a threshold
    choice): ``val_items``, the validation videos with mosaics on every frame (flat triples,
    like the test items; only with ``detector.max_fp_rate``) and ``clean_val``, the same
    videos without mosaics; ``clean_test``, the test videos without mosaics (the clean-frame
    false-positive rate)."""
    kind = model_kind(wildcards.model)
    if kind.calibrate is None:
        return {"val_items": [], "clean_val": [], "clean_test": []}
    val = run.held_out(["val"]) if run.config[kind.section].get("max_fp_rate") is not None else []
    return {
        "val_items": yolo_models.mosaic_test_items([h.name for h in val]),
        "clean_val": [h.video for h in val],
        "clean_test": [h.video for h in run.held_out(["test"])],
    }


def watermark_set_videos(run: Run) -> list[str]:
    """The videos the watermark set is drawn from: every source video but the test videos."""
    return [vid for vid, video in run.videos.items() if video.role != "test"]


def watermark_set_input(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """Rule build_watermark_dataset's videos and their frame indexes, in the same order."""
    ids = watermark_set_videos(run)
    return {
        "videos": [run.videos[vid].path for vid in ids],
        "indexes": [paths.frames_files(vid)["index"] for vid in ids],
    }


def watermark_set_params(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """The ids and sheet roles of rule build_watermark_dataset's videos (its inputs' order)."""
    ids = watermark_set_videos(run)
    return {"ids": ids, "roles": [run.videos[vid].role for vid in ids]}


def watermark_set_fonts(run: Run, wildcards: Any) -> dict[str, list[str]]:
    """The fonts rule build_watermark_dataset draws with, per script, by name and content (a
    font installed, removed or changed reruns it)."""
    from mosaicflow import installed
    from mosaicflow.datasets.watermarks import font_files

    fonts = font_files(run.config["watermark_set"]["fonts"])
    return {
        script: [f"{p.name}:{installed.content_hash(p)[:16]}" for p in files]
        for script, files in sorted(fonts.items())
    }
