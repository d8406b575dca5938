"""Registers the restoration networks and losses with mmengine's ``MODELS`` and builds them.

This is the one module to import explicitly before building from an mmengine config dict
(``MODELS.build(dict(type="BasicVSRPlusPlusNet", ...))``); the training code builds those dicts
from :class:`~mosaicflow.restore.config.RestorationConfig`, users never write ``type=`` strings.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from mmengine.registry import MODELS

from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.config import Stage2Job
from mosaicflow.restore.discriminator import UNetDiscriminatorWithSpectralNorm
from mosaicflow.restore.losses import CharbonnierLoss, GANLoss, PerceptualLoss
from mosaicflow.restore.spynet import SPyNet
from mosaicflow.restore.weights import load_generator_weights, load_spynet_weights

log = logging.getLogger(__name__)


class GeneratorShape(Protocol):
    """The generator's shape: what every restoration job and the whole config have."""

    mid_channels: int
    num_blocks: int
    hr_skip: bool


REGISTERED = (
    BasicVSRPlusPlusNet,
    SPyNet,
    UNetDiscriminatorWithSpectralNorm,
    CharbonnierLoss,
    GANLoss,
    PerceptualLoss,
)

for _cls in REGISTERED:
    if MODELS.get(_cls.__name__) is not _cls:
        MODELS.register_module(name=_cls.__name__, module=_cls)


def generator_cfg(shape: GeneratorShape) -> dict[str, object]:
    """The mmengine config dict of the generator of ``shape``."""
    return {
        "type": BasicVSRPlusPlusNet.__name__,
        "mid_channels": shape.mid_channels,
        "num_blocks": shape.num_blocks,
        "hr_skip": bool(shape.hr_skip),
    }


def build_generator(
    shape: GeneratorShape,
    *,
    weights: str | Path | None = None,
    init_weights: str | Path | None = None,
    spynet_weights: str | Path | None = None,
) -> BasicVSRPlusPlusNet:
    """Build the generator of ``shape`` (a job or the whole config: its ``mid_channels``,
    ``num_blocks``, ``hr_skip``); load ``weights`` (all), else ``init_weights`` (all: the start
    of stage 1), else ``spynet_weights`` (SPyNet); none: random init, zero-flow SPyNet.

    Returns:
        The generator (in training mode).

    Raises:
        WeightsError: a file does not fit (names the file and the keys).
    """
    model = MODELS.build(generator_cfg(shape))
    if weights is not None:
        load_generator_weights(model, Path(weights))
    elif init_weights is not None:
        load_generator_weights(model, Path(init_weights))
    elif spynet_weights is not None:
        load_spynet_weights(model.spynet, Path(spynet_weights))
    return model


def build_discriminator(mid_channels: int = 64) -> UNetDiscriminatorWithSpectralNorm:
    """The stage-2 U-Net discriminator (3 input channels, skip connections)."""
    return MODELS.build(
        {
            "type": UNetDiscriminatorWithSpectralNorm.__name__,
            "in_channels": 3,
            "mid_channels": mid_channels,
            "skip_connection": True,
        }
    )


#: The note (and warning) of a stage 2 without VGG19 weights.
PERCEPTUAL_OFF = (
    "perceptual loss OFF: restoration.vgg19_weights is not set (stage 2 trained with the "
    "pixel and GAN losses only)"
)


def build_perceptual_loss(cfg: Stage2Job) -> tuple[PerceptualLoss | None, list[str]]:
    """Stage 2's perceptual loss: VGG19 with Lada's layer weights, ``cfg.vgg19_weights`` loaded,
    scaled by ``stage2.perceptual_weight``; or ``(None, [why])`` when it is off (a weight of 0,
    or no VGG19 weights: a randomly initialised VGG19 is not a perceptual loss).

    Returns:
        The loss (or None) and the notes the stage's record keeps.
    """
    stage2 = cfg.stage2
    if stage2.perceptual_weight == 0:
        return None, ["perceptual loss off: restoration.stage2.perceptual_weight is 0"]
    if cfg.vgg19_weights is None:
        log.warning("!!! %s !!!", PERCEPTUAL_OFF)
        return None, [PERCEPTUAL_OFF]
    loss = MODELS.build(
        {"type": PerceptualLoss.__name__, "perceptual_weight": stage2.perceptual_weight}
    )
    loss.load_vgg19(Path(cfg.vgg19_weights))
    return loss, [f"perceptual loss on: VGG19 from {Path(cfg.vgg19_weights).name}"]
