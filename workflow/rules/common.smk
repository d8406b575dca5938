# Validation, wildcard constraints and named input functions. Path and selection logic lives in
# mosaicflow.plan (unit tested); this file only wires it to Snakemake.
import dataclasses
import os
import sys

from mosaicflow import installed
from mosaicflow.config import ConfigError, canonical, validate_config, without_runtime
from mosaicflow.ids import VIDEO_ID_PATTERN
from mosaicflow.yolo import bases, models
from mosaicflow.yolo.config import RegionsInferConfig, RegionsPrelabelConfig
from mosaicflow.restore.config import job_params as restoration_job_params
from mosaicflow import devtools, snakemake_patch
from mosaicflow.plan import gpu, paths, targets
from mosaicflow.plan.codehash import script_code_param
from mosaicflow.plan.sources import source_videos
from mosaicflow.plan import yolo_models

# Snakemake's scheduling loop otherwise wakes itself once more per finished job, every second
# (mosaicflow.snakemake_patch): one pending wake-up per scheduler is enough.
snakemake_patch.install()

# Fill defaults from config/schema.yaml, apply the profile, check types, paths and configured
# checkpoints: before any job. A bad configuration ends the run with exit code 2, as the
# mosaicflow command does.
try:
    validate_config(config)
except ConfigError as err:
    print(f"mosaicflow: {err}", file=sys.stderr)
    sys.exit(2)

ENV = "../../envs/mosaicflow.yaml"
# The env's pip list installs the repository from this variable (see mosaicflow.devtools).
os.environ[devtools.REPO_ENV_VAR] = workflow.basedir
WORLD_SPECS = targets.world_specs(config)
WORLD_REUPLOADS = {
    spec.name: spec for spec in targets.world_reuploads(config, WORLD_SPECS)
}
VIDEOS = {
    video.id: video
    for video in source_videos(config["source"], WORLD_SPECS, WORLD_REUPLOADS.values())
}


wildcard_constraints:
    video=VIDEO_ID_PATTERN,
    name=targets.WORLD_NAME_PATTERN,
    reupload=targets.REUPLOAD_NAME_PATTERN,
    split="train|val",
    model=models.MODEL_PATTERN,


def code_of(script):
    """The hash of the package modules ``workflow/scripts/<script>.py`` imports, directly or
    through other modules (mosaicflow.plan.codehash). As a rule param it reruns the jobs
    of the rule when one of those modules changes."""
    return script_code_param(f"{workflow.basedir}/workflow/scripts/{script}.py")


def model_gpu(wildcards):
    """The GPU slot a model job claims (``resources: gpu``): none where its model runs on the
    CPU, so that ``--cores`` alone limits CPU runs (mosaicflow.plan.gpu)."""
    return gpu.gpu_claim(config["device"], workflow.local_exec)


def model_threads(on_cpu, on_gpu):
    """A model job's threads: ``on_cpu`` where its model runs on the CPU, ``on_gpu`` where it
    holds a GPU slot (there its decoding and pre- and post-processing feed the GPU)."""

    def threads(wildcards):
        return on_gpu if model_gpu(wildcards) else on_cpu

    return threads


def config_section(dpath):
    """A config section (``"frames"``, ``"source/on_error"``) as a stable rule param, without
    its speed settings (``x-runtime`` keys: the script reads them at run time)."""
    value = lookup(dpath=dpath, within=config)
    return canonical(without_runtime(value, dpath))


def config_fields(dpath, cls):
    """The keys of a config section that the config dataclass ``cls`` has (the keys a rule's
    code reads), as a stable rule param, without its speed settings."""
    section = lookup(dpath=dpath, within=config)
    fields = {f.name: section[f.name] for f in dataclasses.fields(cls)}
    return canonical(without_runtime(fields, dpath))


def get_final_outputs():
    """Everything `snakemake` builds by default."""
    return targets.final_outputs(config, VIDEOS.values(), WORLD_SPECS)


def get_source_name(wildcards):
    """A source video's path in its sheet or folder (or its demo-world name)."""
    return VIDEOS[wildcards.video].name


#: Names of the held-out videos: demo-world names or the ids of the user's videos.
HELD_OUT_NAME = f"{targets.WORLD_NAME_PATTERN}|{VIDEO_ID_PATTERN}"


def get_source_video(wildcards):
    """The input video file of a video id."""
    return VIDEOS[wildcards.video].path


def get_world_spec(wildcards):
    """The resolved generation parameters of one demo-world video (rerun trigger)."""
    return targets.world_spec(WORLD_SPECS, wildcards.name).to_dict()


def get_reupload_spec(wildcards):
    """What one re-upload of the demo world is made of (rerun trigger)."""
    return WORLD_REUPLOADS[wildcards.reupload].to_dict()


def get_reupload_source(wildcards):
    """The video, truth masks and truth JSON of the world video a re-upload copies."""
    return paths.world_files(WORLD_REUPLOADS[wildcards.reupload].source)


def get_world_set_params(wildcards):
    """World settings of the label sets, without per-video overrides (those act via inputs)."""
    return targets.world_set_params(config["world"])


def get_label_noise_params(wildcards):
    """The label errors the train labelme set gets (world.label_noise); none for val."""
    return targets.label_noise_params(config["world"], wildcards.split)


def get_world_role_items(wildcards):
    """Video, truth video and truth JSON of every world video feeding a labelme split."""
    return targets.world_items(
        WORLD_SPECS, targets.labelme_split_roles(wildcards.split)
    )


def get_world_labelled_items(wildcards):
    """Video, truth video and truth JSON of every train and val world video (watermarks)."""
    return targets.world_items(WORLD_SPECS, ["train", "val"])


def get_world_sample_items(wildcards):
    """Video, truth video and truth JSON of every world video (contact sheet)."""
    return targets.world_items(WORLD_SPECS, ["train", "val", "test"])


def get_region_labelme_dirs(wildcards):
    """Labelme folders of the region segmenter: {"train": [...], "val": [...]}."""
    return paths.region_labelme_dirs(config)


def get_label_issue_inputs(wildcards):
    """Labelme training folders, region segmenter, (demo) injected label errors and reviewed
    corrections of rule find_label_issues."""
    return {**targets.label_issue_inputs(config), **get_label_overrides(wildcards)}


def get_label_overrides(wildcards):
    """The labelme frames corrected in review (`mosaicflow review import-labels`), when any."""
    overrides = f"{paths.LABEL_OVERRIDES}/overrides.json"
    if os.path.exists(overrides):
        return {"overrides": overrides}
    return {}


def get_frames_probes(wildcards):
    """The probe (or rejection record) of every source video."""
    return [paths.frames_files(vid)["probe"] for vid in VIDEOS]


def get_yolo_base_source(wildcards):
    """The ONNX export the YOLO bases are converted from, when it ships with the installation
    (nudenet's): a reference by place and content (mosaicflow.installed), else None."""
    onnx = bases.base_source(config["yolo_base"]["onnx"])
    return installed.reference(onnx, bases.NUDENET_PACKAGE)


def get_yolo_base_input(wildcards):
    """The ONNX export as an input when it is the user's own file (`yolo_base.onnx`; a missing
    one fails naming the key); an installed one is the `source` param instead."""
    if get_yolo_base_source(wildcards):
        return {}
    return {"onnx": str(bases.base_source(config["yolo_base"]["onnx"]))}


def get_train_model_input(wildcards):
    """A YOLO model's dataset, unless its `weights` are used as is, the weights it starts
    from when the workflow makes them (the YOLO base, or `detector.from_region_seg`) and its
    training images' multipliers (`balance.detector`)."""
    dataset = yolo_models.model_dataset(wildcards.model, config)
    if not dataset:
        return {}
    inputs = {"dataset": dataset}
    init = yolo_models.model_init(wildcards.model, config)
    if init:
        inputs["init"] = init
    balance = yolo_models.model_balance(wildcards.model, config)
    if balance:
        inputs["balance"] = balance
    return inputs


def get_train_model_start(wildcards):
    """How a YOLO model starts (base, region_seg, pretrained, scratch or weights), for its card."""
    return yolo_models.start_kind(wildcards.model, config)


def get_train_model_params(wildcards):
    """The keys of a YOLO model's section that training reads (not its inference keys)."""
    return models.train_params(wildcards.model, config)


def get_train_model_work(wildcards):
    """The root of a YOLO model's training state folders (`results/<model>/_work`)."""
    return paths.work_root(wildcards.model)


def get_evaluate_model_params(wildcards):
    """The keys of a YOLO model's section that its test scorer reads."""
    return models.evaluate_params(wildcards.model, config)


def get_evaluate_model_work(wildcards):
    """Scratch folder of a model's evaluation (ultralytics' settings)."""
    return paths.scratch_dir(wildcards.model, "evaluate")


def get_region_test_items(wildcards):
    """The demo's test videos with ground truth (none for user videos)."""
    return targets.region_test_items(config, WORLD_SPECS)


def get_model_test_items(wildcards):
    """A YOLO model's test videos with truth: the demo's test videos; the mosaic detector's
    are the same videos with mosaics on every frame."""
    return targets.model_test(wildcards.model, config, WORLD_SPECS, VIDEOS.values())


def get_model_calibration(wildcards):
    """The validation videos a YOLO model chooses its threshold on (the mosaic detector's:
    with and without mosaics; none for the others)."""
    return targets.model_calibration(
        wildcards.model, config, WORLD_SPECS, VIDEOS.values()
    )


def get_region_summaries(wildcards):
    """The per-video region summaries of every source video."""
    return [paths.region_files(vid)["summary"] for vid in VIDEOS]


def get_prelabel_input(wildcards):
    """Region tables and videos of every source video, for the least-confident frames."""
    return {
        "regions": [paths.region_files(vid)["regions"] for vid in VIDEOS],
        "videos": [VIDEOS[vid].path for vid in VIDEOS],
    }


def get_clip_watermark_model(wildcards):
    """The watermark detector the clip analysers run, when there is one."""
    if yolo_models.has_model("watermark", config):
        return {"watermark": paths.model_files("watermark")["weights"]}
    return {}


def get_clip_region_input(wildcards):
    """The regions one video's clips are cut around (its regions.parquet or the demo truth)."""
    return targets.region_inputs(config, "restoration_dataset", VIDEOS[wildcards.video])


def get_clip_watermark_params(wildcards):
    """The watermark detector's inference keys (None without a detector)."""
    return targets.clip_watermark_params(config)


def get_quality_model(wildcards):
    """The source-quality classifier the clip and detection sample jobs run, when it is on."""
    if targets.scores_source_quality(config):
        return {"quality": targets.quality_model(config)}
    return {}


def get_quality_train_ids(wildcards):
    """Ids of the videos the source-quality classifier trains on."""
    return targets.quality_videos(VIDEOS.values())[0]


def get_quality_val_ids(wildcards):
    """Ids of the videos the source-quality classifier's card is measured on."""
    return targets.quality_videos(VIDEOS.values())[1]


def get_quality_training_input(wildcards):
    """Videos and frame indexes of the classifier's training and card videos."""
    train, val = targets.quality_videos(VIDEOS.values())
    return {
        "videos": [VIDEOS[vid].path for vid in train],
        "indexes": [paths.frames_files(vid)["index"] for vid in train],
        "val_videos": [VIDEOS[vid].path for vid in val],
        "val_indexes": [paths.frames_files(vid)["index"] for vid in val],
    }


def get_source_quality_eval_ids(wildcards):
    """Ids of the demo world's videos with a role (the re-uploads have no truth of their own)."""
    return [
        vid for vid, video in VIDEOS.items() if video.role in ("train", "val", "test")
    ]


def get_source_quality_eval_input(wildcards):
    """Clip manifests and truth JSONs of :func:`get_source_quality_eval_ids`."""
    ids = get_source_quality_eval_ids(wildcards)
    inputs = {
        "manifests": [paths.restoration_manifest(vid) for vid in ids],
        "truths": [paths.world_files(VIDEOS[vid].name)["truth_json"] for vid in ids],
    }
    if targets.trains_quality_classifier(config):
        inputs["card"] = paths.QUALITY_CARD
    return inputs


def get_restoration_manifests(wildcards):
    """The clip manifest of every source video (listed directly, so a dry run shows every job)."""
    return [paths.restoration_manifest(vid) for vid in VIDEOS]


def get_video_split_roles(wildcards):
    """Video id -> split for the videos whose role fixes their split (the demo world's)."""
    return targets.video_split_roles(VIDEOS.values())


def get_test_region_tables(wildcards):
    """The region tables the test videos' clips were cut from, in the order of the test items
    (none when the clips follow the demo truth: the scoring derives them from it)."""
    if config["restoration_dataset"]["regions"] == "truth":
        return []
    return [paths.region_files(vid)["regions"] for vid in get_test_video_ids(wildcards)]


def get_test_frame_indexes(wildcards):
    """The frames indexes of the test videos with truth, in the order of the test items."""
    return [paths.frames_files(vid)["index"] for vid in get_test_video_ids(wildcards)]


def get_test_video_ids(wildcards):
    """The ids of the test videos with truth, in the order of the test items."""
    return targets.test_video_ids(config, VIDEOS.values())


def restoration_params(job):
    """The ``restoration`` keys one restoration job reads (its rule's params); shipped start
    weights (`init_weights: base`) as a reference by place and content (mosaicflow.installed),
    so that a moved checkout reruns nothing."""
    params = restoration_job_params(config["restoration"], job)
    if params.get("init_weights"):
        params["init_weights"] = (
            installed.reference(params["init_weights"]) or params["init_weights"]
        )
    return params


def get_detection_sample_input(wildcards):
    """The regions one video's samples pixelate (its regions.parquet or the demo truth)."""
    return targets.region_inputs(config, "detection_dataset", VIDEOS[wildcards.video])


def get_detection_samples(wildcards):
    """The sample folders and manifests of every source video."""
    files = [paths.detection_samples(vid) for vid in VIDEOS]
    return {
        "dirs": [f["dir"] for f in files],
        "manifests": [f["manifest"] for f in files],
    }


def get_detection_roles(wildcards):
    """Video id -> demo world role (the split follows it); None for user videos."""
    return targets.detection_roles(VIDEOS.values())


def get_detection_testset_input(wildcards):
    """A held-out video and its truth (the demo's, or the one its segmenter infers)."""
    held = targets.held_out_video(wildcards.name, config, WORLD_SPECS, VIDEOS.values())
    return {"video": held.video, "truth": held.truth, "truth_json": held.truth_json}


def get_test_truth_input(wildcards):
    """A user's held-out video and the region segmenter that infers its truth."""
    return {
        "video": VIDEOS[wildcards.video].path,
        "model": paths.model_files("region_seg")["weights"],
    }


def get_restore_test_video_input(wildcards):
    """A mosaicked test video, the mosaic detector with its card (its threshold) and the
    restorer (with its card when this run exports it)."""
    inputs = {
        "video": paths.detection_testset_files(wildcards.name)["video"],
        "detector": paths.model_files("detector")["weights"],
        "detector_card": paths.model_files("detector")["model_json"],
        "restorer": targets.restorer_weights(config),
    }
    if not config["restoration"]["weights"]:
        inputs["card"] = paths.restoration_files()["model_json"]
    return inputs


def get_restore_detector_params(wildcards):
    """The ``detector`` section's inference keys the restore run uses (its threshold comes
    from the detector's card)."""
    return canonical({key: config["detector"][key] for key in ("iou", "imgsz", "half")})


def get_evaluation_names(wildcards):
    """The videos the evaluation scores (``evaluate.roles``)."""
    return targets.evaluation_names(config, WORLD_SPECS, VIDEOS.values())


def get_evaluation_input(wildcards):
    """Originals, mosaicked inputs, truths and restore runs of the evaluated videos, and the
    card of the restorer this run trains (its validation chose the blur baseline's sigma).
    """
    items = targets.evaluation_items(
        targets.evaluated_videos(config, WORLD_SPECS, VIDEOS.values())
    )
    if not config["restoration"]["weights"]:
        items["restorer_card"] = paths.restoration_files()["model_json"]
    return items


def get_training_curve_input(wildcards):
    """The training record a model's curve is plotted from."""
    return targets.curve_record(wildcards.curve)


def get_training_curve_work(wildcards):
    """A YOLO model's work folder root (its run folder holds results.csv); None otherwise."""
    if wildcards.curve == targets.RESTORATION_CURVE:
        return None
    return paths.work_root(wildcards.curve)


def get_gather_metrics_input(wildcards):
    """Stage name -> metrics file (or dataset folder) of every stage of this config."""
    return targets.metrics_stages(config, WORLD_SPECS, VIDEOS.values())


def get_balance_rules(wildcards):
    """The bucket weight file (`balance.weights`), when there is one."""
    return (
        {"rules": config["balance"]["weights"]} if config["balance"]["weights"] else {}
    )


def get_balance_params(levels_key):
    """The `balance` keys read by a balance job (its levels and `max_multiply`)."""
    section = config["balance"]
    return canonical(
        {levels_key: section[levels_key], "max_multiply": section["max_multiply"]}
    )


def get_restoration_stage_input(wildcards):
    """The clip index a restoration stage trains on and, with `balance.restoration`, the
    clips' sampling weights."""
    inputs = {"index": paths.RESTORATION_INDEX}
    if config["balance"]["restoration"]:
        inputs["balance"] = paths.balance_files("clips")["weights"]
    return inputs


def get_restoration_stage1_input(wildcards):
    """Stage 1's inputs (:func:`get_restoration_stage_input`) and the user's own weights it
    starts from (``restoration.init_weights``, read through the params); shipped weights are
    a param only (:func:`restoration_params`)."""
    inputs = get_restoration_stage_input(wildcards)
    weights = config["restoration"]["init_weights"]
    if weights and not installed.reference(weights):
        inputs["init_weights"] = weights
    return inputs


def get_score_clips_input(wildcards):
    """One video's clip manifest and region table, its demo truth, and the source video when
    the second opinion is on."""
    return targets.review_signal_inputs(config, VIDEOS[wildcards.video])


def get_nudenet_model(wildcards):
    """The nudenet detector the second opinion runs, as a reference by place and content
    (mosaicflow.installed), when the second opinion is on; else None."""
    if not config["review"]["nudenet"]["enabled"]:
        return None
    return installed.reference(bases.nudenet_onnx(), bases.NUDENET_PACKAGE)


def get_duplicate_groups(wildcards):
    """The duplicate groups of all videos (rule find_duplicates), when duplicates are on."""
    if config["duplicates"]["enabled"]:
        return {"duplicates": paths.DUPLICATES}
    return {}


def get_review_verdicts(wildcards):
    """The review verdicts (``mosaicflow review import``), when there are any."""
    if os.path.exists(paths.REVIEW_VERDICTS):
        return {"verdicts": paths.REVIEW_VERDICTS}
    return {}
