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
        stage1: stage-1 training settings (None in a job that does not read them).
        stage2: stage-2 training settings (None in a job that does not read them).
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
    stage1: Stage1Config | None
    stage2: Stage2Config | None


def restoration_config(profile: str = "demo", **changes: object) -> RestorationConfig:
    """The ``restoration`` config of ``profile`` with the schema's defaults, ``changes`` applied."""
    from mosaicflow.config import build, validate_config

    config: dict = {"profile": profile}
    validate_config(config)
    return dataclasses.replace(build(RestorationConfig, config["restoration"]), **changes)


#: The ``restoration`` keys each job reads (a rule's params carry only these, so changing a
#: stage-2 key never retrains stage 1).
JOB_KEYS: dict[str, tuple[str, ...]] = {
    "stage1": ("mid_channels", "num_blocks", "hr_skip", "spynet_weights", "init_weights",
               "blur_sigmas", "amp", "stage1"),
    "convert": ("mid_channels", "num_blocks", "hr_skip", "stage2.disc_mid_channels"),
    "stage2": ("mid_channels", "num_blocks", "hr_skip", "vgg19_weights", "blur_sigmas",
               "amp", "stage2"),
    "export": ("mid_channels", "num_blocks", "hr_skip", "stage1", "stage2"),
}  # fmt: skip


def job_params(section: Mapping[str, Any], job: str) -> dict[str, Any]:
    """The keys of the (validated) ``restoration`` section that ``job`` reads."""
    from mosaicflow.config import canonical

    if job not in JOB_KEYS:
        raise ValueError(f"unknown restoration job {job!r} (known: {sorted(JOB_KEYS)})")
    params: dict[str, Any] = {}
    for key in JOB_KEYS[job]:
        if "." in key:  # one key of a stage ("stage2.disc_mid_channels")
            stage, name = key.split(".", 1)
            params[f"{stage}_{name}"] = section[stage][name]
        else:
            params[key] = section[key]
    return canonical(params)


def config_from_params(params: Mapping[str, Any]) -> RestorationConfig:
    """The :class:`RestorationConfig` of a job's params (:func:`job_params`); the keys the job
    does not read are None."""
    from mosaicflow.config import build

    names = [f.name for f in dataclasses.fields(RestorationConfig)]
    params = {k: v for k, v in params.items() if k != "stage2_disc_mid_channels"}
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"restoration params: unknown keys {unknown}")
    return build(RestorationConfig, {name: params.get(name) for name in names})
