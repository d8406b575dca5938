"""Typed configuration of the restoration model (the ``restoration`` section of the schema)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RestorationConfig:
    """Model knobs of the BasicVSR++ restoration stage; fields match ``restoration`` one to one.

    Attributes:
        mid_channels: feature channels of the generator (64 for the published models).
        num_blocks: residual blocks per propagation branch (15 for the published models).
        spynet_weights: local SPyNet weights loaded strictly, or None to start from zero flow.
        vgg19_weights: local torchvision VGG19 weights for the perceptual loss, or None.
        weights: local restoration weights used as is (training skipped), or None.
    """

    mid_channels: int
    num_blocks: int
    spynet_weights: str | None
    vgg19_weights: str | None
    weights: str | None
