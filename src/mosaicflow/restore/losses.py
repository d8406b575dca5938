"""Restoration losses: Charbonnier or MSE (pixel), vanilla GAN, and VGG19 perceptual loss.

Stage 2 of the Lada recipe combines Charbonnier (weight 1), a perceptual loss on VGG19 features
(layers 2/7/16/25/34 = conv1_2, conv2_2, conv3_4, conv4_4, conv5_4 before their ReLU, weighted
0.1/0.1/1/1/1, L1 distance, overall weight 0.2, ImageNet input normalisation) and a vanilla GAN
loss (weight 0.05). Those numbers are the defaults here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# VGG19 ("configuration E") feature layout as in torchvision: conv widths, "M" = max pool.
_VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M")
_VGG19_LAYOUT += (512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

LADA_VGG_LAYER_WEIGHTS: Mapping[int, float] = {2: 0.1, 7: 0.1, 16: 1.0, 25: 1.0, 34: 1.0}
LADA_PERCEPTUAL_WEIGHT = 0.2
LADA_GAN_WEIGHT = 0.05


def _flatten_time(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, *x.shape[-3:]) if x.dim() == 5 else x


class _PixelLoss(nn.Module):
    """A per-pixel error, averaged (optionally weighted per pixel) and scaled by ``loss_weight``.

    Subclasses define :meth:`error`, the element-wise error of ``pred`` against ``target``.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def error(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Loss of ``pred`` against ``target`` (same shape); ``weight`` broadcasts to them."""
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        err = self.error(pred, target)
        if weight is None:
            return self.loss_weight * err.mean()
        weight = weight.expand_as(err)
        return self.loss_weight * (err * weight).sum() / weight.sum().clamp_min(1e-12)


class CharbonnierLoss(_PixelLoss):
    """mean(sqrt((pred - target)^2 + eps)), a smooth L1; optionally weighted per pixel.

    Args:
        loss_weight: factor on the loss.
        eps: smoothing constant inside the square root.
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-12) -> None:
        super().__init__(loss_weight)
        self.eps = eps

    def error(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps)


class MSELoss(_PixelLoss):
    """mean((pred - target)^2), optionally weighted per pixel (the loss PSNR measures).

    Args:
        loss_weight: factor on the loss.
    """

    def error(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target) ** 2


PIXEL_LOSSES: Mapping[str, type[nn.Module]] = {"charbonnier": CharbonnierLoss, "mse": MSELoss}


def pixel_loss(name: str, loss_weight: float = 1.0) -> nn.Module:
    """The pixel loss called ``name`` (``charbonnier`` or ``mse``), scaled by ``loss_weight``."""
    if name not in PIXEL_LOSSES:
        raise ValueError(f"unknown pixel loss {name!r} (known: {', '.join(PIXEL_LOSSES)})")
    return PIXEL_LOSSES[name](loss_weight=loss_weight)


def pixel_weight(mask: torch.Tensor, outside: float) -> torch.Tensor | None:
    """Per-pixel loss weight: 1 inside the mask, ``outside`` elsewhere (None when 1)."""
    if outside == 1.0:
        return None
    inside = (mask > 0.5).to(mask.dtype)
    return inside + outside * (1 - inside)


class GANLoss(nn.Module):
    """Vanilla GAN loss (binary cross-entropy on logits).

    Args:
        loss_weight: factor applied to the generator's loss (not to the discriminator's).
        real_label: target value for real samples.
        fake_label: target value for fake samples.
    """

    def __init__(
        self, loss_weight: float = LADA_GAN_WEIGHT, real_label: float = 1.0, fake_label: float = 0.0
    ) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.real_label = real_label
        self.fake_label = fake_label

    def forward(
        self, logits: torch.Tensor, target_is_real: bool, is_disc: bool = False
    ) -> torch.Tensor:
        """BCE of ``logits`` against the real or fake label; weighted unless ``is_disc``."""
        target = torch.full_like(logits, self.real_label if target_is_real else self.fake_label)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        return loss if is_disc else self.loss_weight * loss


def vgg19_features(last_layer: int = 34) -> nn.Sequential:
    """The VGG19 feature extractor (torchvision layer indices) up to ``last_layer`` inclusive.

    ReLUs are not in-place, so the output of any layer can be read before the next one runs.
    Weights are random; load them with :func:`mosaicflow.restore.weights.load_vgg19_weights`.
    """
    layers: list[nn.Module] = []
    channels = 3
    for item in _VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, 1, 1), nn.ReLU(inplace=False)]
            channels = int(item)
    if not 0 <= last_layer < len(layers):
        raise ValueError(f"VGG19 has feature layers 0..{len(layers) - 1}, not {last_layer}")
    return nn.Sequential(*layers[: last_layer + 1])


class PerceptualLoss(nn.Module):
    """Weighted L1 distance between VGG19 features of the prediction and the target.

    The VGG19 is frozen (no gradients to its weights, always in eval mode); gradients flow to
    the prediction. Inputs are RGB in [0, 1], (N, 3, H, W) or clips (N, T, 3, H, W).

    Args:
        layer_weights: VGG19 feature layer index -> weight (outputs of that layer).
        perceptual_weight: factor on the summed loss.
        use_input_norm: normalise inputs with the ImageNet mean/std first.
    """

    def __init__(
        self,
        layer_weights: Mapping[int, float] = LADA_VGG_LAYER_WEIGHTS,
        perceptual_weight: float = LADA_PERCEPTUAL_WEIGHT,
        use_input_norm: bool = True,
    ) -> None:
        super().__init__()
        if not layer_weights:
            raise ValueError("layer_weights is empty")
        self.layer_weights = {int(k): float(v) for k, v in layer_weights.items()}
        self.perceptual_weight = perceptual_weight
        self.use_input_norm = use_input_norm
        self.vgg = vgg19_features(max(self.layer_weights))
        self.vgg.requires_grad_(False)
        self.register_buffer(
            "mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False
        )

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.vgg.eval()
        return self

    def load_vgg19(self, path: str | Path) -> None:
        """Load torchvision VGG19 weights (a local file) into the feature extractor."""
        from mosaicflow.restore.weights import load_vgg19_weights

        load_vgg19_weights(self.vgg, path)

    def features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """VGG19 features of ``x`` at the weighted layers."""
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out = {}
        for index, layer in enumerate(self.vgg):
            x = layer(x)
            if index in self.layer_weights:
                out[index] = x
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Perceptual loss of ``pred`` against ``target`` (same shape)."""
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        pred_f = self.features(_flatten_time(pred))
        with torch.no_grad():
            target_f = self.features(_flatten_time(target.detach()))
        total = pred.new_zeros(())
        for index, weight in self.layer_weights.items():
            total = total + weight * F.l1_loss(pred_f[index], target_f[index])
        return self.perceptual_weight * total
