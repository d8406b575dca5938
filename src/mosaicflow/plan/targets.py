"""Target paths of the workflow: what `rule all` builds and what each aggregate reads.

The paths come from :mod:`mosaicflow.plan.paths`, the one place that defines them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mosaicflow.config import canonical
from mosaicflow.plan import paths
from mosaicflow.plan.paths import (
    frames_files,
    model_files,
    region_files,
    region_labelme_dirs,
    world_files,
    world_labelme_dir,
)
from mosaicflow.plan.sources import SourceVideo
from mosaicflow.plan.yolo_models import has_model, model_dataset, mosaic_test_items
from mosaicflow.yolo.models import MODELS, model_kind

WORLD_NAME_PATTERN = r"world-(?:train|val|test|label)-[0-9][0-9]+"
REUPLOAD_NAME_PATTERN = r"world-reupload-[0-9][0-9]+"


def world_specs(config: Mapping[str, Any]) -> list[Any]:
    """Video specs of the demo world, or none when the source is the user's videos."""
    if config["source"]["kind"] != "demo":
        return []
    from mosaicflow.config import build
    from mosaicflow.world import video_specs
    from mosaicflow.world.config import WorldConfig

    return list(video_specs(build(WorldConfig, config["world"]), config["seed"]))


def world_reuploads(config: Mapping[str, Any], specs: Sequence[Any]) -> list[Any]:
    """The demo world's re-uploads (``world.reuploads``), none for the user's videos."""
    if config["source"]["kind"] != "demo":
        return []
    from mosaicflow.config import build
    from mosaicflow.world.config import WorldConfig
    from mosaicflow.world.reuploads import reupload_specs

    return reupload_specs(build(WorldConfig, config["world"]), config["seed"], specs)


def world_spec(specs: Sequence[Any], name: str) -> Any:
    """The spec of the world video called ``name``."""
    for spec in specs:
        if spec.name == name:
            return spec
    raise KeyError(f"no demo-world video named {name}")


def world_set_params(world: Mapping[str, Any]) -> dict[str, Any]:
    """The ``world`` section as the label-set rules see it: per-video overrides removed.

    A change to one video's parameters reaches the label sets through their input files, so it
    reruns them only when that video is one of their inputs. ``label_noise`` is left out: only
    the train labelme set reads it (:func:`label_noise_params`); so are the re-uploads, which
    feed no label set.
    """
    return canonical({**world, "videos": {}, "label_noise": {}, "reuploads": {}})


def label_noise_params(world: Mapping[str, Any], split: str) -> dict[str, Any]:
    """``world.label_noise`` for the train labelme set; nothing for the others."""
    return canonical(world.get("label_noise", {})) if split == "train" else {}


def world_items(specs: Sequence[Any], roles: Iterable[str]) -> list[str]:
    """Flat list (video, truth, truth_json, ...) of the world videos with the given roles."""
    wanted = set(roles)
    paths: list[str] = []
    for spec in specs:
        if spec.role in wanted:
            files = world_files(spec.name)
            paths += [files["video"], files["truth"], files["truth_json"]]
    return paths


def labelme_split_roles(split: str) -> tuple[str, ...]:
    """The world roles whose videos feed ``split`` (train or val) of the labelme set."""
    from mosaicflow.world.specs import LABELME_SPLIT_ROLES

    return LABELME_SPLIT_ROLES[split]


def region_test_items(config: Mapping[str, Any], specs: Sequence[Any]) -> list[str]:
    """Video, truth video and truth JSON of the demo's test videos (none for user videos)."""
    return world_items(specs, ["test"]) if config["source"]["kind"] == "demo" else []


@dataclass(frozen=True)
class HeldOutVideo:
    """A video the models are scored on, with its truth: a demo-world video with its ground
    truth, or a user's video with the truth its region segmenter infers on every frame."""

    #: names the mosaicked copy and the restore run (world name, or the user video's id)
    name: str
    video: str
    truth: str
    truth_json: str


def held_out_videos(
    config: Mapping[str, Any],
    specs: Sequence[Any],
    videos: Iterable[SourceVideo],
    roles: Iterable[str],
) -> list[HeldOutVideo]:
    """The videos of ``roles`` with their truth, in world or sheet order: the demo world's, or
    the user's videos of those roles when there is a region segmenter to infer their truth
    (rule ``infer_test_truth``)."""
    wanted = set(roles)
    if config["source"]["kind"] == "demo":
        return [
            HeldOutVideo(spec.name, *world_files(spec.name).values())
            for spec in specs
            if spec.role in wanted
        ]
    if not has_model("region_seg", config):
        return []
    return [
        HeldOutVideo(video.id, video.path, *paths.test_truth_files(video.id).values())
        for video in videos
        if video.role in wanted
    ]


def held_out_video(
    name: str, config: Mapping[str, Any], specs: Sequence[Any], videos: Iterable[SourceVideo]
) -> HeldOutVideo:
    """The held-out video (validation or test) called ``name``."""
    for held in held_out_videos(config, specs, videos, ["train", "val", "test"]):
        if held.name == name:
            return held
    raise KeyError(f"no video with truth is called {name}")


def model_test(
    name: str,
    config: Mapping[str, Any],
    specs: Sequence[Any],
    videos: Iterable[SourceVideo],
) -> list[str]:
    """The test items (video, truth, truth_json, ...) of YOLO model ``name``: for the mosaic
    detector the test videos with mosaics drawn over their truth (the demo's, or the user's
    over the regions the segmenter infers); for the other models the demo's test videos (user
    videos have no truth to score a segmenter or watermark detector against)."""
    if model_kind(name).calibrate is None:
        return region_test_items(config, specs)
    return mosaic_test_items([h.name for h in held_out_videos(config, specs, videos, ["test"])])


def model_calibration(
    name: str,
    config: Mapping[str, Any],
    specs: Sequence[Any],
    videos: Iterable[SourceVideo],
) -> dict[str, list[str]]:
    """The extra videos of YOLO model ``name``'s evaluation (none for the models without a
    threshold choice): ``val_items``, the validation videos with mosaics on every frame (flat
    triples, like the test items; only with ``detector.max_fp_rate``) and ``clean_val``, the
    same videos without mosaics; ``clean_test``, the test videos without mosaics (the
    clean-frame false-positive rate)."""
    kind = model_kind(name)
    if kind.calibrate is None:
        return {"val_items": [], "clean_val": [], "clean_test": []}
    videos = list(videos)
    val: list[HeldOutVideo] = []
    if config[kind.section].get("max_fp_rate") is not None:
        val = held_out_videos(config, specs, videos, ["val"])
    return {
        "val_items": mosaic_test_items([h.name for h in val]),
        "clean_val": [h.video for h in val],
        "clean_test": [h.video for h in held_out_videos(config, specs, videos, ["test"])],
    }


def regions_feed_datasets(config: Mapping[str, Any]) -> bool:
    """Whether a dataset is built from the inferred regions (not from the demo truth)."""
    return any(
        config[section]["regions"] == "inferred"
        for section in ("detection_dataset", "restoration_dataset")
    )


def region_inputs(config: Mapping[str, Any], section: str, video: SourceVideo) -> dict[str, str]:
    """The regions a stage of ``section`` (``detection_dataset``, ``restoration_dataset``) reads
    for ``video``: its ``regions.parquet`` or, with ``<section>.regions: truth``, the demo
    world's truth mask video.

    Raises:
        ValueError: ``truth`` with videos that are not the demo world's.
    """
    if config[section]["regions"] == "inferred":
        # the summary of all videos: its rule stops the run when no video has a region
        return {
            "regions": region_files(video.id)["regions"],
            "region_summary": paths.REGION_SUMMARY,
        }
    if config["source"]["kind"] != "demo":
        raise ValueError(
            f"config key '{section}.regions': 'truth' needs source.kind 'demo' (user "
            "videos have no ground truth); use 'inferred'"
        )
    return {"truth": world_files(video.name)["truth"]}


def detection_roles(videos: Iterable[SourceVideo]) -> dict[str, str] | None:
    """Video id -> role, which the detection split follows: the videos with a role (train, val,
    test: every demo-world video but the re-uploads, and the user's videos that a sheet gives
    one); None when no video has one (all are split by ``detection_dataset.split``)."""
    return video_split_roles(videos) or None


def detection_outputs(
    config: Mapping[str, Any], specs: Sequence[Any], videos: Iterable[SourceVideo]
) -> list[str]:
    """The detection stage's targets: the dataset when there are regions to pixelate, and the
    mosaicked test videos (the detector's test) when there is a detector."""
    outputs: list[str] = []
    if model_dataset("detector", config):
        outputs.append(paths.DETECTION_DATASET)
    if has_model("detector", config):
        outputs += model_test("detector", config, specs, videos)
    return outputs


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


def clip_watermark_params(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The watermark detector's keys the clip analysers read (None without a detector)."""
    if not has_model("watermark", config):
        return None
    return canonical({key: config["watermark"][key] for key in ("imgsz", "conf")})


def video_split_roles(videos: Iterable[SourceVideo]) -> dict[str, str]:
    """Video id -> split for the videos whose role is a split (train, val or test)."""
    return {v.id: v.role for v in videos if v.role in ("train", "val", "test")}


def test_video_ids(config: Mapping[str, Any], videos: Iterable[SourceVideo]) -> list[str]:
    """Ids of the demo's test videos, in the order of :func:`region_test_items` (world order)."""
    if config["source"]["kind"] != "demo":
        return []
    return [v.id for v in videos if v.role == "test"]


def restoration_outputs(config: Mapping[str, Any]) -> list[str]:
    """The restoration stage's targets: the clip index and sheets, the clips' scores on the
    demo's test videos, and the trained, exported model (unless ``restoration.weights`` is
    given)."""
    if not has_model("region_seg", config):
        return []
    outputs = [paths.RESTORATION_INDEX]
    outputs += [paths.restoration_sheet(split) for split in ("train", "val", "test")]
    if config["source"]["kind"] == "demo":
        outputs.append(paths.RESTORATION_DATASET_METRICS)
    if not config["restoration"]["weights"]:
        files = paths.restoration_files()
        outputs += [files["weights"], files["model_json"]]
    return outputs


def balance_outputs(config: Mapping[str, Any]) -> list[str]:
    """The sampling weights of the detection images (when there is a detection dataset) and
    of the restoration clips (when there is a clip dataset)."""
    outputs: list[str] = []
    if model_dataset("detector", config):
        outputs += list(paths.balance_files("detection").values())
    if has_model("region_seg", config):
        outputs += list(paths.balance_files("clips").values())
    return outputs


def scores_source_quality(config: Mapping[str, Any]) -> bool:
    """Whether the source-quality classifier is trained and scores the clips."""
    return bool(config["quality"]["enabled"]) and has_model("region_seg", config)


def quality_model(config: Mapping[str, Any]) -> str:
    """The classifier the clip and detection sample jobs score with: ``quality.weights`` or the
    one rule train_quality_classifier trains."""
    return str(config["quality"]["weights"] or paths.QUALITY_MODEL)


def trains_quality_classifier(config: Mapping[str, Any]) -> bool:
    """Whether this run trains the source-quality classifier (no ``quality.weights`` given)."""
    return scores_source_quality(config) and not config["quality"]["weights"]


def quality_videos(videos: Iterable[SourceVideo]) -> tuple[list[str], list[str]]:
    """``(train, val)`` video ids of the source-quality classifier: the videos whose role is
    ``train`` and ``val``; without roles every video trains and the card is measured on them
    too."""
    videos = list(videos)
    roles = video_split_roles(videos)
    if not roles:
        ids = [v.id for v in videos]
        return ids, ids
    train = [v.id for v in videos if roles.get(v.id) == "train"]
    val = [v.id for v in videos if roles.get(v.id) == "val"]
    return train, val or train


def quality_outputs(config: Mapping[str, Any]) -> list[str]:
    """The classifier, its card and, on the demo world, its scores against the truth."""
    if not scores_source_quality(config):
        return []
    outputs = [paths.QUALITY_MODEL, paths.QUALITY_CARD] if trains_quality_classifier(config) else []
    if config["source"]["kind"] == "demo":
        outputs.append(paths.QUALITY_METRICS)
    return outputs


def reviews_clips(config: Mapping[str, Any]) -> bool:
    """Whether the clips are triaged: they are cut from the region segmenter's output."""
    return (
        has_model("region_seg", config) and config["restoration_dataset"]["regions"] == "inferred"
    )


def review_outputs(config: Mapping[str, Any]) -> list[str]:
    """The clip ranking, its scores on the demo truth and the review export (when the clips
    come from the region segmenter)."""
    if not reviews_clips(config):
        return []
    return [paths.REVIEW_RANKED, paths.REVIEW_METRICS, paths.REVIEW_EXPORT, paths.REVIEW_SHEET]


def finds_label_issues(config: Mapping[str, Any]) -> bool:
    """Whether rule find_label_issues runs: on, a region segmenter, labelme training folders."""
    return bool(
        config["label_issues"]["enabled"]
        and has_model("region_seg", config)
        and region_labelme_dirs(config)["train"]
    )


def label_issue_outputs(config: Mapping[str, Any]) -> list[str]:
    """The ranked labelme frames, the flagged ones for review and their metrics."""
    if not finds_label_issues(config):
        return []
    return [
        paths.LABEL_ISSUES,
        paths.LABEL_ISSUES_EXPORT,
        paths.LABEL_ISSUES_METRICS,
        paths.LABEL_ISSUES_SHEET,
    ]


def label_issue_inputs(config: Mapping[str, Any]) -> dict[str, Any]:
    """What rule find_label_issues reads: the labelme training folders, the region segmenter
    and, on the demo world, the label errors it injected."""
    inputs: dict[str, Any] = {
        "labelme": region_labelme_dirs(config)["train"],
        "model": model_files("region_seg")["weights"],
    }
    if config["source"]["kind"] == "demo":
        inputs["errors"] = paths.world_label_errors("train")
    return inputs


def review_signal_inputs(config: Mapping[str, Any], video: SourceVideo) -> dict[str, str]:
    """What rule score_clips reads for ``video``: its clip manifest and region table, the demo
    truth (demo world), the source video (second opinion on; the installed nudenet model is a
    param) and the region segmenter (contrast check on)."""
    inputs = {
        "manifest": paths.restoration_manifest(video.id),
        "regions": region_files(video.id)["regions"],
    }
    if config["source"]["kind"] == "demo":
        inputs["truth"] = world_files(video.name)["truth"]
    if config["review"]["nudenet"]["enabled"]:
        inputs["video"] = video.path
    if config["review"]["contrast_check"]["enabled"]:
        inputs["video"] = video.path
        inputs["segmenter"] = paths.model_files("region_seg")["weights"]
    return inputs


def shard_outputs(config: Mapping[str, Any]) -> list[str]:
    """The shard folders ``shards.detection`` / ``shards.clips`` ask for, when the dataset is
    built."""
    outputs: list[str] = []
    if config["shards"]["detection"] and model_dataset("detector", config):
        outputs.append(paths.shard_dir("detection"))
    if config["shards"]["clips"] and has_model("region_seg", config):
        outputs.append(paths.shard_dir("clips"))
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
    outputs += restoration_outputs(config)
    outputs += detection_outputs(config, specs, videos)
    outputs += balance_outputs(config)
    outputs += shard_outputs(config)
    outputs += review_outputs(config)
    outputs += quality_outputs(config)
    outputs += label_issue_outputs(config)
    outputs += evaluation_outputs(config, specs, videos)
    return outputs


#: The restoration model's name among the training curves (the others are YOLO model names).
RESTORATION_CURVE = "restoration"


def restorer_weights(config: Mapping[str, Any]) -> str | None:
    """The restorer the evaluation runs: ``restoration.weights`` or the exported generator
    (None when there is neither)."""
    if config["restoration"]["weights"]:
        return str(config["restoration"]["weights"])
    if has_model("region_seg", config):
        return paths.restoration_files()["weights"]
    return None


def evaluated_videos(
    config: Mapping[str, Any], specs: Sequence[Any], videos: Iterable[SourceVideo]
) -> list[HeldOutVideo]:
    """The videos the evaluation restores and scores (roles in ``evaluate.roles``): the demo
    world's, or the user's with the truth their segmenter infers; none without a detector
    and a restorer."""
    if not has_model("detector", config) or restorer_weights(config) is None:
        return []
    return held_out_videos(config, specs, videos, config["evaluate"]["roles"])


def evaluation_names(
    config: Mapping[str, Any], specs: Sequence[Any], videos: Iterable[SourceVideo]
) -> list[str]:
    """Names of the videos the evaluation restores and scores (:func:`evaluated_videos`)."""
    return [held.name for held in evaluated_videos(config, specs, videos)]


def evaluation_items(held: Sequence[HeldOutVideo]) -> dict[str, list[str]]:
    """The inputs of the evaluation, one list per kind, in the order of ``held``."""
    from mosaicflow.plan.paths import detection_testset_files, evaluate_files

    names = [h.name for h in held]
    return {
        "originals": [h.video for h in held],
        "mosaics": [detection_testset_files(n)["video"] for n in names],
        "truths": [detection_testset_files(n)["truth"] for n in names],
        "restored": [evaluate_files(n)["video"] for n in names],
        "masks": [evaluate_files(n)["masks"] for n in names],
        "summaries": [evaluate_files(n)["summary"] for n in names],
    }


def curve_models(config: Mapping[str, Any]) -> list[str]:
    """Models trained by this run (given weights have no curve): YOLO models with a dataset,
    and the restoration model unless ``restoration.weights`` is given."""

    names = [name for name in MODELS if model_dataset(name, config)]
    if not config["restoration"]["weights"] and has_model("region_seg", config):
        names.append(RESTORATION_CURVE)
    return names


def curve_record(model: str) -> str:
    """What a model's curve is plotted from: its ``train.json`` or the restoration card."""
    if model == RESTORATION_CURVE:
        return paths.restoration_files()["model_json"]
    return model_files(model)["train_json"]


def metrics_stages(
    config: Mapping[str, Any], specs: Sequence[Any], videos: Iterable[SourceVideo]
) -> dict[str, str]:
    """Stage name -> metrics file (or dataset folder with its provenance) that
    ``results/metrics.json`` gathers, for the current config."""
    stages: dict[str, str] = {}
    if region_labelme_dirs(config)["train"]:
        stages["region_dataset"] = paths.REGION_DATASET
    for name in MODELS:
        if has_model(name, config):
            stages[name] = model_files(name)["metrics"]
    if model_dataset("detector", config):
        stages["detection_dataset"] = paths.DETECTION_DATASET
    if has_model("region_seg", config):
        if config["source"]["kind"] == "demo":
            stages["restoration_dataset"] = paths.RESTORATION_DATASET_METRICS
        if not config["restoration"]["weights"]:
            files = paths.restoration_files()
            stages["restoration_stage1"] = files["stage1_metrics"]
            stages["restoration_stage2"] = files["stage2_metrics"]
    if config["source"]["kind"] == "demo" and scores_source_quality(config):
        stages["source_quality"] = paths.QUALITY_METRICS
    elif trains_quality_classifier(config):
        stages["source_quality"] = paths.QUALITY_CARD
    if reviews_clips(config):
        stages["clip_review"] = paths.REVIEW_METRICS
    if finds_label_issues(config):
        stages["label_issues"] = paths.LABEL_ISSUES_METRICS
    if evaluation_names(config, specs, videos):
        stages["evaluate"] = paths.EVALUATE_METRICS
    return stages


def evaluation_outputs(
    config: Mapping[str, Any], specs: Sequence[Any], videos: Iterable[SourceVideo]
) -> list[str]:
    """The evaluation stage's targets: the restored test videos and their scores, the training
    curves of the models this run trains, and ``results/metrics.json``."""
    outputs: list[str] = []
    names = evaluation_names(config, specs, videos)
    for name in names:
        outputs += list(paths.evaluate_files(name).values())
    if names:
        outputs += [
            paths.EVALUATE_METRICS,
            paths.EVALUATE_TABLE,
            paths.EVALUATE_SIDE_BY_SIDE,
            paths.EVALUATE_GRID,
        ]
    outputs += [paths.training_curve(model) for model in curve_models(config)]
    outputs.append(paths.METRICS)
    return outputs
