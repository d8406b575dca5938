# Validation, wildcard constraints and named input functions. Path and selection logic lives in
# mosaicflow.workflow (unit tested); this file only wires it to Snakemake.
import os

from mosaicflow.config import canonical, validate_config
from mosaicflow.ids import VIDEO_ID_PATTERN
from mosaicflow.regions import models
from mosaicflow.workflow import devtools, paths, targets
from mosaicflow.workflow.codehash import code_hash
from mosaicflow.workflow.sources import source_videos

# Fill defaults from config/schema.yaml, apply the profile, check types and paths: before any job.
validate_config(config)

ENV = "../../envs/mosaicflow.yaml"
# The env's pip list installs the repository from this variable (see mosaicflow.workflow.devtools).
os.environ[devtools.REPO_ENV_VAR] = workflow.basedir
WORLD_SPECS = targets.world_specs(config)
VIDEOS = {video.id: video for video in source_videos(config["source"], WORLD_SPECS)}


wildcard_constraints:
    video=VIDEO_ID_PATTERN,
    name=targets.WORLD_NAME_PATTERN,
    split="train|val",
    model=models.MODEL_PATTERN,


def config_section(dpath):
    """A config section (``"frames"``, ``"source/on_error"``) as a stable rule param."""
    return canonical(lookup(dpath=dpath, within=config))


def get_final_outputs():
    """Everything `snakemake` builds by default."""
    return targets.final_outputs(config, VIDEOS.values(), WORLD_SPECS)


def get_source_video(wildcards):
    """The input video file of a video id."""
    return VIDEOS[wildcards.video].path


def get_world_spec(wildcards):
    """The resolved generation parameters of one demo-world video (rerun trigger)."""
    return targets.world_spec(WORLD_SPECS, wildcards.name).to_dict()


def get_world_set_params(wildcards):
    """World settings of the label sets, without per-video overrides (those act via inputs)."""
    return targets.world_set_params(config["world"])


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


def get_frames_probes(wildcards):
    """The probe (or rejection record) of every source video."""
    return [paths.frames_files(vid)["probe"] for vid in VIDEOS]


def get_train_model_input(wildcards):
    """A YOLO model's dataset, unless its `weights` are used as is."""
    dataset = models.model_dataset(wildcards.model, config)
    return {"dataset": dataset} if dataset else {}


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


def get_region_summaries(wildcards):
    """The per-video region summaries of every source video."""
    return [paths.region_files(vid)["summary"] for vid in VIDEOS]


def get_prelabel_input(wildcards):
    """Region tables and videos of every source video, for the least-confident frames."""
    return {
        "regions": [paths.region_files(vid)["regions"] for vid in VIDEOS],
        "videos": [VIDEOS[vid].path for vid in VIDEOS],
    }
