"""Typed configuration of the restoration model (the ``restoration`` section of the schema)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageConfig:
    """Fields both training stages have (``restoration.stage1`` and ``stage2`` share them)."""

    iterations: int
    batch_size: int
    num_frames: int
    size: int
    betas: tuple[float, float]
    schedule: str
    eta_min: float
    step_milestones: tuple[float, ...]
    step_gamma: float
    pixel_loss: str
    outside_weight: float
    checkpoint_every: int
    val_every: int
    lr: float


@dataclass(frozen=True)
class Stage1Config(StageConfig):
    """Stage 1 (Charbonnier only); fields match ``restoration.stage1`` one to one."""

    spynet_lr_mult: float
    fix_iter: int


@dataclass(frozen=True)
class Stage2Config(StageConfig):
    """Stage 2 (GAN + perceptual + EMA); fields match ``restoration.stage2`` one to one."""

    disc_lr: float
    disc_mid_channels: int
    pixel_weight: float
    perceptual_weight: float
    gan_weight: float
    ema_momentum: float


@dataclass(frozen=True)
class RestorationConfig:
    """Model knobs of the BasicVSR++ restoration stage; fields match ``restoration`` one to one.
    Each rule reads a part of it: :data:`JOBS`.

    Attributes:
        mid_channels: feature channels of the generator (64 for the published models).
        num_blocks: residual blocks per propagation branch (15 for the published models).
        hr_skip: the generator's full-resolution branch (not in the published layout).
        spynet_weights: local SPyNet weights loaded strictly, or None to start from zero flow.
        init_weights: local generator weights stage 1 starts from (loaded strictly), or None.
        vgg19_weights: local torchvision VGG19 weights for the perceptual loss, or None.
        weights: local restoration weights used as is (training skipped), or None.
        blur_sigmas: Gaussian sigmas searched for the blur baseline of the validation.
        num_workers: DataLoader workers for training clips.
        amp: bfloat16 autocast + channels-last on CUDA.
        stage1: stage-1 training settings.
        stage2: stage-2 training settings.
    """

    mid_channels: int
    num_blocks: int
    hr_skip: bool
    spynet_weights: str | None
    init_weights: str | None
    vgg19_weights: str | None
    weights: str | None
    blur_sigmas: tuple[float, ...]
    num_workers: int
    amp: bool
    stage1: Stage1Config
    stage2: Stage2Config


def restoration_config(profile: str = "demo", **changes: object) -> RestorationConfig:
    """The ``restoration`` config of ``profile`` with the schema's defaults, ``changes`` applied."""
    from mosaicflow.config import build, validate_config

    config: dict = {"profile": profile}
    validate_config(config)
    return dataclasses.replace(build(RestorationConfig, config["restoration"]), **changes)


@dataclass(frozen=True)
class Stage1Job:
    """What rule ``train_restoration_stage1`` reads of ``restoration``: its params, so changing
    any other key never retrains stage 1. Fields as in :class:`RestorationConfig`."""

    mid_channels: int
    num_blocks: int
    hr_skip: bool
    spynet_weights: str | None
    init_weights: str | None
    blur_sigmas: tuple[float, ...]
    amp: bool
    stage1: Stage1Config


@dataclass(frozen=True)
class ConvertJob:
    """What rule ``convert_restoration`` reads: the generator's shape and the discriminator's
    channels (``stage2.disc_mid_channels``)."""

    mid_channels: int
    num_blocks: int
    hr_skip: bool
    stage2_disc_mid_channels: int


@dataclass(frozen=True)
class Stage2Job:
    """What rule ``train_restoration_stage2`` reads of ``restoration``."""

    mid_channels: int
    num_blocks: int
    hr_skip: bool
    vgg19_weights: str | None
    blur_sigmas: tuple[float, ...]
    amp: bool
    stage2: Stage2Config


@dataclass(frozen=True)
class ExportJob:
    """What rule ``export_restoration`` reads: the generator's shape and both stages' settings
    (for the model card)."""

    mid_channels: int
    num_blocks: int
    hr_skip: bool
    stage1: Stage1Config
    stage2: Stage2Config


#: The restoration rules' jobs by name.
JOBS: dict[str, type] = {
    "stage1": Stage1Job,
    "convert": ConvertJob,
    "stage2": Stage2Job,
    "export": ExportJob,
}
#: A field of a job that names a key of a stage section (``<stage>_<key>``).
_STAGE_KEYS = ("stage1_", "stage2_")


def job_params(section: Mapping[str, Any], job: str) -> dict[str, Any]:
    """The keys of the (validated) ``restoration`` section that ``job`` reads: the fields of
    its dataclass (:data:`JOBS`), as the rule's params."""
    from mosaicflow.config import canonical

    if job not in JOBS:
        raise ValueError(f"unknown restoration job {job!r} (known: {sorted(JOBS)})")
    params: dict[str, Any] = {}
    for field in dataclasses.fields(JOBS[job]):
        name = field.name
        if name.startswith(_STAGE_KEYS):  # one key of a stage ("stage2_disc_mid_channels")
            stage, key = name.split("_", 1)
            params[name] = section[stage][key]
        else:
            params[name] = section[name]
    return canonical(params)


def job_of(job: str, params: Mapping[str, Any]) -> Any:
    """The typed job (:data:`JOBS`) of a rule's params (:func:`job_params`); a shipped file
    given as a :func:`mosaicflow.installed.reference` becomes its path."""
    from mosaicflow.config import build
    from mosaicflow.installed import path_of

    if job not in JOBS:
        raise ValueError(f"unknown restoration job {job!r} (known: {sorted(JOBS)})")
    return build(JOBS[job], {key: path_of(value) for key, value in params.items()})


def job_settings(job: Any) -> dict[str, Any]:
    """A typed job's settings as its rule's params name them (keys sorted, shipped files as
    references): what its work folder, checkpoints and card are keyed by, the same on every
    checkout."""
    from mosaicflow.config import canonical
    from mosaicflow.installed import portable

    return portable(canonical(dataclasses.asdict(job)))


def job_from(cfg: RestorationConfig, job: str) -> Any:
    """The job ``job`` of a whole ``restoration`` config (as its rule would get it)."""
    return job_of(job, job_params(dataclasses.asdict(cfg), job))
