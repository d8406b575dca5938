"""U-Net discriminator with spectral norm: reference key layout and behaviour."""

from __future__ import annotations

import pytest
import torch

from mosaicflow.restore.discriminator import UNetDiscriminatorWithSpectralNorm
from mosaicflow.restore.models import build_discriminator


def test_keys_match_reference(key_table):
    expected = key_table("unet_discriminator_sn_mid64_keys.tsv")
    disc = build_discriminator(64)
    ours = [(k, tuple(v.shape)) for k, v in disc.state_dict().items()]
    assert ours == expected
    assert len(ours) == 28


def test_forward_shape_roundtrip_and_errors():
    torch.manual_seed(0)
    disc = UNetDiscriminatorWithSpectralNorm(3, 8)
    img = torch.rand(2, 3, 32, 48)
    logits = disc(img)
    assert logits.shape == (2, 1, 32, 48)
    logits.mean().backward()
    assert disc.conv_1.weight_orig.grad is not None
    copy = UNetDiscriminatorWithSpectralNorm(3, 8)
    copy.load_state_dict(disc.state_dict(), strict=True)
    disc.eval()
    copy.eval()
    torch.testing.assert_close(disc(img), copy(img))
    with pytest.raises(ValueError, match="multiples of 8"):
        disc(torch.rand(1, 3, 30, 32))


def test_spectral_norm_bounds_the_layer():
    torch.manual_seed(0)
    disc = UNetDiscriminatorWithSpectralNorm(3, 8)
    with torch.no_grad():
        disc.conv_4.weight_orig.mul_(100.0)
    disc.train()
    for _ in range(15):  # power iterations converge during training-mode forwards
        disc(torch.rand(1, 3, 16, 16))
    weight = disc.conv_4.weight.reshape(disc.conv_4.weight.shape[0], -1)
    assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, rel=0.05)
