# Validation, the run (its videos and facts, worked out once), wildcard constraints and the
# helpers every rules file uses. What each stage builds and reads lives in its module of
# mosaicflow.plan.stages (unit tested); the rules bind its functions through RUN.inputs.
import dataclasses
import os
import sys

from mosaicflow.config import (
    ConfigError,
    build,
    canonical,
    validate_config,
    without_runtime,
)
from mosaicflow.ids import VIDEO_ID_PATTERN
from mosaicflow.yolo import models
from mosaicflow.curate.config import ClipSignalsConfig
from mosaicflow.datasets.clips.config import ClipCuttingConfig, RestorationDatasetConfig
from mosaicflow.datasets.detection.config import (
    DetectionDatasetConfig,
    DetectionSamplingConfig,
)
from mosaicflow.evaluation.config import EvaluationRestoreConfig
from mosaicflow.yolo.config import RegionsInferConfig, RegionsPrelabelConfig
from mosaicflow import devtools, snakemake_patch
from mosaicflow.plan import gpu, paths, stages
from mosaicflow.plan import requests
from mosaicflow.plan.requests import growing, stretch
from mosaicflow.plan.codehash import script_code_param
from mosaicflow.plan.run import (
    REUPLOAD_NAME_PATTERN,
    RESTORATION_CURVE,
    WORLD_NAME_PATTERN,
    Run,
)
from mosaicflow.plan.sources import SourceError
from mosaicflow.plan.whole_numbers import check_whole_numbers
from mosaicflow.config_checks import check_config

# Snakemake's scheduling loop otherwise wakes itself once more per finished job, every second
# (mosaicflow.snakemake_patch): one pending wake-up per scheduler is enough.
snakemake_patch.install()

# Fill defaults from config/schema.yaml, apply the profile, check types, paths and configured
# checkpoints: before any job. A bad configuration ends the run with exit code 2, as the
# mosaicflow command does.
try:
    validate_config(config)
    check_whole_numbers(config)
    # the checks of the dataset sections the schema cannot express (a split that leaves no
    # training videos): the per-video jobs read only part of these sections
    for section, cls in (
        ("detection_dataset", DetectionDatasetConfig),
        ("restoration_dataset", RestorationDatasetConfig),
    ):
        build(cls, without_runtime(config[section], section))
    # every section as its jobs build it, the YOLO trainings' arguments, contradicting keys:
    # checked once, in the run's own process (a cluster job's Snakemake skips them)
    if not workflow.remote_exec:
        for warning in check_config(config):
            print(f"mosaicflow: warning: {warning}", file=sys.stderr)
    # the source videos: a bad sheet or folder names the file
    RUN = Run.from_config(config)
    try:  # a cluster training's stretch (the environment's)
        requests.training_minutes()
    except ValueError as err:
        raise ConfigError(str(err)) from err
except (ConfigError, SourceError) as err:
    print(f"mosaicflow: {err}", file=sys.stderr)
    sys.exit(2)


# A CUDA device this machine does not show, in a local run: refused before the first job (the
# executor, local or a cluster's, is known only once the run starts; dry runs and a cluster
# job's own Snakemake skip this).
onstart:
    try:
        gpu.check_device(
            config["device"], workflow.local_exec and not workflow.remote_exec
        )
    except ConfigError as err:
        print(f"mosaicflow: {err}", file=sys.stderr)
        sys.exit(2)
    # the checkpointed trainings resume past a cluster's time limit (mosaicflow.plan.requests)
    if requests.set_training_retries(
        {r.name: r for r in workflow.rules}, workflow.local_exec
    ):
        print(
            f"mosaicflow: checkpointed trainings are resubmitted up to "
            f"{requests.TRAINING_RETRIES} times",
            file=sys.stderr,
        )


ENV = "../../envs/mosaicflow.yaml"
# The env's pip list installs the repository from this variable (see mosaicflow.devtools).
os.environ[devtools.REPO_ENV_VAR] = workflow.basedir
# A job that crashes in native code (a decoder, a kernel) prints the Python stack of each of
# its threads to its stderr (the terminal, or the SLURM job's log) before it dies.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")
VIDEOS = RUN.videos

# Each stage's input and params functions, bound to the run (mosaicflow.plan.stages.<stage>).
WORLD = RUN.inputs(stages.world)
FRAMES = RUN.inputs(stages.frames)
YOLO = RUN.inputs(stages.yolo)
REGIONS = RUN.inputs(stages.regions)
DETECTION = RUN.inputs(stages.detection)
RESTORATION = RUN.inputs(stages.restoration)
BALANCE = RUN.inputs(stages.balance)
REVIEW = RUN.inputs(stages.review)
LABEL_ISSUES = RUN.inputs(stages.label_issues)
DUPLICATES = RUN.inputs(stages.duplicates)
QUALITY = RUN.inputs(stages.quality)
EVALUATION = RUN.inputs(stages.evaluation)


wildcard_constraints:
    video=VIDEO_ID_PATTERN,
    name=WORLD_NAME_PATTERN,
    reupload=REUPLOAD_NAME_PATTERN,
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


def gpu_when(*model_inputs):
    """The GPU slot of a job that runs a model on `device` only when one of `model_inputs`
    (input functions) gives it one: without a model it claims none."""

    def claim(wildcards):
        return model_gpu(wildcards) if any(f(wildcards) for f in model_inputs) else 0

    return claim


def partition_of(claim):
    """The SLURM partition of a job whose GPU slot `claim` gives (mosaicflow.plan.requests)."""

    def slurm_partition(wildcards):
        return requests.partition(bool(claim(wildcards)))

    return slurm_partition


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


#: Names of the held-out videos: demo-world names or the ids of the user's videos.
HELD_OUT_NAME = f"{WORLD_NAME_PATTERN}|{VIDEO_ID_PATTERN}"
