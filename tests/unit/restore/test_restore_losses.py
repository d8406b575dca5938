"""Losses: Charbonnier, vanilla GAN, VGG19 perceptual loss loading local weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from mosaicflow.restore.config import job_from, restoration_config
from mosaicflow.restore.losses import (
    LADA_VGG_LAYER_WEIGHTS,
    CharbonnierLoss,
    GANLoss,
    MSELoss,
    PerceptualLoss,
    pixel_loss,
)
from mosaicflow.restore.models import build_perceptual_loss
from mosaicflow.restore.weights import WeightsError


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """A randomly initialised torchvision VGG19 (features) saved like torchvision's file."""
    torch.manual_seed(0)
    features = torchvision.models.vgg19(weights=None).features.eval()
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path, features


def test_charbonnier():
    loss = CharbonnierLoss()
    a, b = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert loss(a, b).item() == pytest.approx(0.5, abs=1e-6)
    assert loss(a, a).item() == pytest.approx(1e-6, abs=1e-6)
    weight = torch.zeros(2, 1, 4, 4)
    weight[..., :2, :] = 1
    b2 = b.clone()
    b2[..., 2:, :] = 5.0  # outside the weighted region: ignored
    assert loss(a, b2, weight).item() == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ValueError, match="differ"):
        loss(a, b[:1])


def test_mse_weighted_inside_the_mask_only():
    loss = MSELoss(loss_weight=2.0)
    a, b = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert loss(a, b).item() == pytest.approx(2.0 * 0.25)
    weight = torch.zeros(2, 1, 4, 4)
    weight[..., :2, :] = 1
    b2 = b.clone()
    b2[..., 2:, :] = 5.0  # outside the mask: ignored at weight 0
    assert loss(a, b2, weight).item() == pytest.approx(2.0 * 0.25)
    with pytest.raises(ValueError, match="differ"):
        loss(a, b[:1])


def test_pixel_loss_by_name():
    assert isinstance(pixel_loss("mse"), MSELoss)
    charb = pixel_loss("charbonnier", loss_weight=3.0)
    assert isinstance(charb, CharbonnierLoss) and charb.loss_weight == 3.0
    with pytest.raises(ValueError, match=r"huber.*charbonnier, mse"):
        pixel_loss("huber")


def test_gan_loss_vanilla():
    gan = GANLoss(loss_weight=0.05)
    logits = torch.tensor([[2.0, -1.0]])
    real = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    assert gan(logits, True, is_disc=True).item() == pytest.approx(real.item())
    assert gan(logits, True).item() == pytest.approx(0.05 * real.item())
    fake = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
    assert gan(logits, False, is_disc=True).item() == pytest.approx(fake.item())


def test_perceptual_loss_loads_torchvision_vgg19(vgg19_file):
    path, reference = vgg19_file
    cfg = restoration_config(
        mid_channels=8, num_blocks=1, init_weights=None, vgg19_weights=str(path)
    )
    loss, notes = build_perceptual_loss(job_from(cfg, "stage2"))
    assert loss is not None and notes == [f"perceptual loss on: VGG19 from {path.name}"]
    assert set(loss.layer_weights) == set(LADA_VGG_LAYER_WEIGHTS) == {2, 7, 16, 25, 34}
    x = torch.rand(1, 3, 32, 32)
    normed = (x - loss.mean) / loss.std
    with torch.no_grad():
        torch.testing.assert_close(loss.features(x)[34], reference[:35](normed))
    # gradients reach the prediction, not VGG
    pred = torch.rand(1, 2, 3, 32, 32, requires_grad=True)
    target = torch.rand(1, 2, 3, 32, 32)
    value = loss(pred, target)
    value.backward()
    assert value.item() > 0 and pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())
    assert loss(target, target).item() == pytest.approx(0.0, abs=1e-7)
    loss.train()
    assert not loss.vgg.training


def test_perceptual_loss_rejects_wrong_file(tmp_path: Path, vgg19_file):
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    loss = PerceptualLoss(layer_weights={2: 1.0})
    with pytest.raises(WeightsError, match=r"bad\.pth"):
        loss.load_vgg19(tmp_path / "bad.pth")
    torch.save({"classifier.0.weight": torch.zeros(1)}, tmp_path / "head.pth")
    with pytest.raises(WeightsError, match="features"):
        loss.load_vgg19(tmp_path / "head.pth")
    loss.load_vgg19(vgg19_file[0])  # truncated extractor ignores deeper layers
    with pytest.raises(ValueError, match=r"0\.\.36"):
        PerceptualLoss(layer_weights={40: 1.0})
