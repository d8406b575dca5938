"""Registers the restoration networks and losses with mmengine's ``MODELS`` and builds them.

This is the one module to import explicitly before building from an mmengine config dict
(``MODELS.build(dict(type="BasicVSRPlusPlusNet", ...))``); the training code builds those dicts
from :class:`~mosaicflow.restore.config.RestorationConfig`, users never write ``type=`` strings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mmengine.registry import MODELS

from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.config import RestorationConfig
from mosaicflow.restore.discriminator import UNetDiscriminatorWithSpectralNorm
from mosaicflow.restore.losses import CharbonnierLoss, GANLoss, PerceptualLoss
from mosaicflow.restore.spynet import SPyNet
from mosaicflow.restore.weights import load_generator_weights, load_spynet_weights

log = logging.getLogger(__name__)

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


def generator_cfg(cfg: RestorationConfig) -> dict[str, object]:
    """The mmengine config dict of the generator described by ``cfg``."""
    return {
        "type": BasicVSRPlusPlusNet.__name__,
        "mid_channels": cfg.mid_channels,
        "num_blocks": cfg.num_blocks,
        "hr_skip": bool(cfg.hr_skip),
    }


def build_generator(cfg: RestorationConfig, load_weights: bool = True) -> BasicVSRPlusPlusNet:
    """Build the generator; load ``cfg.weights`` (all), else ``cfg.init_weights`` (all: the
    start of stage 1), else ``cfg.spynet_weights`` (SPyNet).

    Args:
        cfg: the restoration config.
        load_weights: False builds the bare network (random init, zero-flow SPyNet).

    Returns:
        The generator (in training mode).

    Raises:
        WeightsError: a configured file does not fit (names the file and the keys).
    """
    model = MODELS.build(generator_cfg(cfg))
    if load_weights and cfg.weights is not None:
        load_generator_weights(model, Path(cfg.weights))
    elif load_weights and cfg.init_weights is not None:
        load_generator_weights(model, Path(cfg.init_weights))
    elif load_weights and cfg.spynet_weights is not None:
        load_spynet_weights(model.spynet, Path(cfg.spynet_weights))
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


def build_perceptual_loss(cfg: RestorationConfig) -> tuple[PerceptualLoss | None, list[str]]:
    """Stage 2's perceptual loss: VGG19 with Lada's layer weights, ``cfg.vgg19_weights`` loaded,
    scaled by ``stage2.perceptual_weight``; or ``(None, [why])`` when it is off (a weight of 0,
    or no VGG19 weights: a randomly initialised VGG19 is not a perceptual loss).

    Returns:
        The loss (or None) and the notes the stage's record keeps.
    """
    stage2 = cfg.stage2
    assert stage2 is not None
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
