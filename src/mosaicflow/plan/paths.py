"""Where the workflow's files live: the one place rules and the stage modules
(:mod:`mosaicflow.plan.stages`) take their paths from.

Functions return plain strings relative to the working directory; called with a wildcard in
braces (``model_files("{model}")``) they return the rule's pattern.

Work folders follow one convention, ``results/<stage>/_work/<name>/``: a training job keeps its
state (checkpoints, ``last.pt``, the dataset mirror) in ``<name> = <hash of its settings and
data>``, which is not a declared output, so a killed job resumes; jobs without state (evaluation,
inference, pre-labelling) get a scratch folder named after the job for ultralytics' settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RESULTS = "results"
#: Videos that could not be decoded, with the reason (rule gather_rejected).
REJECTED = f"{RESULTS}/rejected.tsv"
#: A grid of demo-world frames (rule draw_world_contact_sheet).
WORLD_CONTACT_SHEET = f"{RESULTS}/world/contact_sheet.png"
#: The region segmenter's YOLO-seg dataset (rule build_region_dataset).
REGION_DATASET = f"{RESULTS}/regions/dataset"
#: The demo world's watermark dataset in YOLO format (rule write_world_watermarks).
WORLD_WATERMARKS = f"{RESULTS}/world/watermarks"
#: The watermark detection set made from the source videos (rule build_watermark_dataset).
WATERMARK_SET = f"{RESULTS}/watermark_set"


def world_files(name: str) -> dict[str, str]:
    """The files one world video job writes: video, truth masks, truth JSON."""
    return {
        "video": f"{RESULTS}/world/videos/{name}.mp4",
        "truth": f"{RESULTS}/world/truth/{name}.mkv",
        "truth_json": f"{RESULTS}/world/truth/{name}.json",
    }


def world_labelme_dir(split: str) -> str:
    """The demo world's labelme folder of ``split`` (train or val)."""
    return f"{RESULTS}/world/labelme/{split}"


def world_label_errors(split: str) -> str:
    """The label errors the demo world injected into ``split``'s labelme files (JSON)."""
    return f"{RESULTS}/world/labelme/{split}-errors.json"


def frames_files(video: str) -> dict[str, str]:
    """Frame extraction of one video: the frame index and the probe (or rejection record)."""
    return {
        "index": f"{RESULTS}/frames/{video}/index.parquet",
        "probe": f"{RESULTS}/frames/{video}/probe.json",
    }


def model_files(model: str) -> dict[str, str]:
    """Files of a YOLO model: weights, ONNX and training record (``train_model``), model card
    and metrics (``evaluate_model``)."""
    return {
        "weights": f"{RESULTS}/models/{model}/best.pt",
        "onnx": f"{RESULTS}/models/{model}/best.onnx",
        "train_json": f"{RESULTS}/models/{model}/train.json",
        "model_json": f"{RESULTS}/models/{model}/model.json",
        "metrics": f"{RESULTS}/metrics/{model}.json",
    }


#: The pretrained YOLO bases (rule ``convert_yolo_base``) per task, and their card.
YOLO_BASES = {
    "detect": f"{RESULTS}/models/bases/yolov8n.pt",
    "segment": f"{RESULTS}/models/bases/yolov8n-seg.pt",
}
YOLO_BASE_CARD = f"{RESULTS}/models/bases/model.json"


def work_root(stage: str) -> str:
    """``results/<stage>/_work``: the stage's work folders (state or scratch) lie below it."""
    return f"{RESULTS}/{stage}/_work"


def scratch_dir(stage: str, job: str) -> str:
    """The work folder of a job without resumable state (ultralytics' settings folder)."""
    return f"{work_root(stage)}/{job}"


def log(rule: str, wildcards: str = "all") -> str:
    """``results/logs/<rule>/<wildcards>.log``."""
    return f"{RESULTS}/logs/{rule}/{wildcards}.log"


def benchmark(rule: str, wildcards: str = "all") -> str:
    """``results/benchmarks/<rule>/<wildcards>.tsv``."""
    return f"{RESULTS}/benchmarks/{rule}/{wildcards}.tsv"


def region_files(video: str) -> dict[str, str]:
    """Region inference of one video: the region table and its summary."""
    return {
        "regions": f"{RESULTS}/regions/{video}/regions.parquet",
        "summary": f"{RESULTS}/regions/{video}/summary.json",
    }


REGION_SUMMARY = f"{RESULTS}/regions/summary.tsv"
PRELABEL_DIR = f"{RESULTS}/prelabel"


def region_labelme_dirs(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The labelme folders the region segmenter trains and validates on.

    The demo world's train and val samples, or ``source.labelme_train`` / ``labelme_val``; without
    a val folder the dataset holds out whole videos of the train folder.
    """
    source = config["source"]
    if source["kind"] == "demo":
        return {"train": [world_labelme_dir("train")], "val": [world_labelme_dir("val")]}
    dirs = {"train": [source["labelme_train"]] if source["labelme_train"] else []}
    if source["labelme_val"]:
        dirs["val"] = [source["labelme_val"]]
    return dirs


#: The restoration clip dataset (rules build_restoration_clips, index_restoration_dataset).
RESTORATION_DATASET = f"{RESULTS}/restoration_dataset"
RESTORATION_INDEX = f"{RESTORATION_DATASET}/index.parquet"


def restoration_manifest(video: str) -> str:
    """The per-video manifest of the restoration clips (every candidate clip, kept or not)."""
    return f"{RESTORATION_DATASET}/videos/{video}.json"


def restoration_sheet(split: str) -> str:
    """The contact sheet of one split of the restoration clips."""
    return f"{RESTORATION_DATASET}/sheets/{split}.png"


def restoration_files() -> dict[str, str]:
    """Files of the restoration model: both stages, the conversion, the export and its card."""
    model = f"{RESULTS}/models/restoration"
    return {
        "stage1": f"{model}/stage1.pth",
        "stage1_metrics": f"{RESULTS}/metrics/restoration_stage1.json",
        "stage2_init": f"{model}/stage2_init.pth",
        "stage2": f"{model}/stage2.pth",
        "stage2_metrics": f"{RESULTS}/metrics/restoration_stage2.json",
        "weights": f"{model}/generator.pth",
        "model_json": f"{model}/model.json",
    }


#: The restoration clips scored against the demo's truth (rule evaluate_restoration_dataset).
RESTORATION_DATASET_METRICS = f"{RESULTS}/metrics/restoration_dataset.json"


#: The mosaic detection dataset (rule build_detection_dataset): YOLO-seg splits, COCO, data.yaml.
DETECTION_DATASET = f"{RESULTS}/detection_dataset"


def detection_samples(video: str) -> dict[str, str]:
    """One video's detection samples (rule build_detection_samples): images + mosaic masks
    folder and its manifest."""
    return {
        "dir": f"{RESULTS}/detection_samples/{video}",
        "manifest": f"{RESULTS}/detection_samples/{video}.json",
    }


def test_truth_files(video: str) -> dict[str, str]:
    """A user's held-out video's truth as its region segmenter sees it on every frame (rule
    infer_test_truth), in the demo truth format: truth mask video, truth JSON."""
    return {
        "truth": f"{RESULTS}/test_truth/{video}.mkv",
        "truth_json": f"{RESULTS}/test_truth/{video}.json",
    }


def detection_testset_files(name: str) -> dict[str, str]:
    """A demo test or validation video with mosaics on every frame and its mosaic truth (rule
    build_detection_testset; the validation ones choose the detector's threshold), in the demo
    truth format: video, truth mask video, truth JSON."""
    return {
        "video": f"{RESULTS}/detection_testset/{name}.mp4",
        "truth": f"{RESULTS}/detection_testset/{name}.mkv",
        "truth_json": f"{RESULTS}/detection_testset/{name}.json",
    }


#: Sampling weights (rules balance_detection, balance_clips).
BALANCE_DIR = f"{RESULTS}/balance"


def balance_files(table: str) -> dict[str, str]:
    """The sampling weights of ``detection`` images or restoration ``clips``: weights.parquet
    (one row per training item) and buckets.tsv (per bucket: items, target, listings in the
    repeated list)."""
    return {
        "weights": f"{BALANCE_DIR}/{table}/weights.parquet",
        "buckets": f"{BALANCE_DIR}/{table}/buckets.tsv",
    }


#: Tar shards of the datasets (rules shard_detection_dataset, shard_restoration_dataset).
SHARDS_DIR = f"{RESULTS}/shards"


def shard_dir(dataset: str) -> str:
    """The shard folder of the ``detection`` dataset or the restoration ``clips``."""
    return f"{SHARDS_DIR}/{dataset}"


#: Clip triage and review (rules score_clips, rank_clips, export_review; mosaicflow review).
REVIEW_DIR = f"{RESULTS}/review"
REVIEW_RANKED = f"{REVIEW_DIR}/ranked.parquet"
REVIEW_EXPORT = f"{REVIEW_DIR}/export"
REVIEW_SHEET = f"{REVIEW_DIR}/top_clips.png"
REVIEW_VERDICTS = f"{REVIEW_DIR}/verdicts.parquet"
REVIEW_METRICS = f"{RESULTS}/metrics/review.json"
LABEL_ISSUES = f"{REVIEW_DIR}/label_issues.parquet"
LABEL_ISSUES_EXPORT = f"{REVIEW_DIR}/labelme"
LABEL_ISSUES_METRICS = f"{RESULTS}/metrics/label_issues.json"
LABEL_ISSUES_SHEET = f"{REVIEW_DIR}/label_issues.png"
LABEL_OVERRIDES = f"{REVIEW_DIR}/label_overrides"


def review_signals(video: str) -> str:
    """The signals table of one video's clips (rule score_clips)."""
    return f"{REVIEW_DIR}/signals/{video}.parquet"


#: Duplicate videos across sources (rule find_duplicates).
CURATION_DIR = f"{RESULTS}/curation"
DUPLICATES = f"{CURATION_DIR}/duplicates.parquet"
DUPLICATE_PAIRS = f"{CURATION_DIR}/duplicate_pairs.parquet"


#: The source-quality classifier (rule train_quality_classifier) and its scores against the
#: demo world's degraded scenes (rules score_quality_scenes, evaluate_source_quality).
QUALITY_DIR = f"{RESULTS}/models/quality"
QUALITY_MODEL = f"{QUALITY_DIR}/quality.pt"
QUALITY_CARD = f"{QUALITY_DIR}/card.json"
QUALITY_METRICS = f"{RESULTS}/metrics/source_quality.json"
#: The scene-by-scene scores of the world's ``quality`` videos (rule score_quality_scenes).
QUALITY_SCENES = f"{RESULTS}/evaluate/source_quality_scenes.parquet"


#: End-to-end evaluation (rules restore_test_video, evaluate_restoration).
EVALUATE_DIR = f"{RESULTS}/evaluate"
EVALUATE_METRICS = f"{RESULTS}/metrics/evaluate.json"
EVALUATE_TABLE = f"{EVALUATE_DIR}/table.tsv"
EVALUATE_SIDE_BY_SIDE = f"{EVALUATE_DIR}/side_by_side.mp4"
EVALUATE_GRID = f"{EVALUATE_DIR}/grid.png"
#: Every stage's metrics in one file (rule gather_metrics).
METRICS = f"{RESULTS}/metrics.json"


def evaluate_files(name: str) -> dict[str, str]:
    """One test video's restore run (rule restore_test_video): the restored video, the
    detector's per-frame masks (``regions.parquet`` format) and the run's summary."""
    return {
        "video": f"{EVALUATE_DIR}/{name}/restored.mp4",
        "masks": f"{EVALUATE_DIR}/{name}/masks.parquet",
        "summary": f"{EVALUATE_DIR}/{name}/restore.json",
    }


def training_curve(model: str) -> str:
    """The training-curve plot of a model (rule plot_training_curves)."""
    return f"{EVALUATE_DIR}/curves/{model}.png"


def pr_curve(model: str) -> str:
    """The test precision-recall plot of a YOLO model (rule evaluate_model)."""
    return f"{EVALUATE_DIR}/pr_curves/{model}.png"
