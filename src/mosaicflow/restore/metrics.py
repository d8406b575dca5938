"""Validation metrics of the restoration model: PSNR and SSIM inside the mosaic mask and on the
whole crop, against two baselines on the same samples (the mosaic input itself and the best
Gaussian blur of it).

PSNR is pooled: the squared error of every pixel of every clip is summed before the log, so a
validation set gives one number (not a mean of per-clip PSNRs). SSIM uses an 11 x 11 Gaussian
window (sigma 1.5, data range 1), computed per channel on reflect-padded frames so the SSIM map
has the frame's size and can be averaged inside the mask. Images are RGB float in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Triple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
METRIC_KEYS = ("psnr_mask", "ssim_mask", "psnr", "ssim")


def _gaussian_kernel(sigma: float, radius: int | None = None) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma)) if radius is None else radius
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return (k / k.sum()).float()


def _separable(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Filter (N, C, H, W) with a separable 1D kernel, reflect padding (replicate if too small).

    Float64 tensors on the CPU are filtered by SciPy (the same sums, about ten times faster than
    torch's float64 grouped convolution); everything else by torch.
    """
    c, r = x.shape[1], (kernel.numel() - 1) // 2
    mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    if x.device.type == "cpu" and x.dtype == torch.float64:
        from scipy.ndimage import correlate1d

        k64 = kernel.to(torch.float64).numpy()
        edge = {"reflect": "mirror", "replicate": "nearest"}[mode]
        rows = correlate1d(x.numpy(), k64, axis=-1, mode=edge)
        return torch.from_numpy(correlate1d(rows, k64, axis=-2, mode=edge))
    k = kernel.to(x)
    x = F.conv2d(
        F.pad(x, (r, r, 0, 0), mode=mode), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c
    )
    return F.conv2d(
        F.pad(x, (0, 0, r, r), mode=mode), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c
    )


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of images (..., C, H, W) with ``sigma`` in pixels (radius 3 sigma)."""
    shape = x.shape
    return _separable(x.reshape(-1, *shape[-3:]), _gaussian_kernel(sigma)).reshape(shape)


def ssim_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (mean over channels) of images (N, C, H, W) in [0, 1] -> (N, 1, H, W)."""
    kernel = _gaussian_kernel(1.5, radius=5)
    c1, c2 = 0.01**2, 0.03**2
    pred, target = pred.double(), target.double()
    mu_p, mu_t = _separable(pred, kernel), _separable(target, kernel)
    var_p = _separable(pred * pred, kernel) - mu_p**2
    var_t = _separable(target * target, kernel) - mu_t**2
    cov = _separable(pred * target, kernel) - mu_p * mu_t
    num = (2 * mu_p * mu_t + c1) * (2 * cov + c2)
    den = (mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2)
    return (num / den).mean(dim=1, keepdim=True).float()


@dataclass
class MetricSums:
    """Running sums for pooled PSNR/SSIM over a validation set (inside the mask and overall)."""

    se_mask: float = 0.0
    n_mask: float = 0.0
    ssim_mask: float = 0.0
    px_mask: float = 0.0
    se_all: float = 0.0
    n_all: float = 0.0
    ssim_all: float = 0.0
    px_all: float = 0.0

    def add(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> None:
        """Add frames ``pred``/``gt`` (..., 3, H, W), ``mask`` (..., 1, H, W); > 0.5 = inside."""
        pred = pred.detach().float().clamp(0, 1).reshape(-1, *pred.shape[-3:]).cpu()
        gt = gt.detach().float().reshape(-1, *gt.shape[-3:]).cpu()
        inside = (mask.detach().float().reshape(-1, 1, *mask.shape[-2:]).cpu() > 0.5).double()
        se = ((pred.double() - gt.double()) ** 2).sum(dim=1, keepdim=True)
        smap = ssim_map(pred, gt).double()
        self.se_mask += float((se * inside).sum())
        self.n_mask += float(inside.sum()) * pred.shape[1]
        self.ssim_mask += float((smap * inside).sum())
        self.px_mask += float(inside.sum())
        self.se_all += float(se.sum())
        self.n_all += float(se.numel()) * pred.shape[1]
        self.ssim_all += float(smap.sum())
        self.px_all += float(smap.numel())

    def result(self) -> dict[str, float | None]:
        """``psnr_mask``, ``ssim_mask``, ``psnr``, ``ssim`` (None inside an empty mask)."""

        def psnr(se: float, n: float) -> float | None:
            if n == 0:
                return None
            return round(10 * math.log10(1.0 / max(se / n, 1e-12)), 4)

        return {
            "psnr_mask": psnr(self.se_mask, self.n_mask),
            "ssim_mask": round(self.ssim_mask / self.px_mask, 5) if self.px_mask else None,
            "psnr": psnr(self.se_all, self.n_all),
            "ssim": round(self.ssim_all / self.px_all, 5) if self.px_all else None,
        }


def _as_clip(x: torch.Tensor) -> torch.Tensor:
    return x if x.dim() == 4 else x.reshape(-1, *x.shape[-3:])


def blur_inside(lq: torch.Tensor, mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """The blur baseline: ``lq`` blurred with ``sigma`` inside the mask, unchanged outside."""
    inside = (mask > 0.5).to(lq.dtype)
    return inside * gaussian_blur(lq, sigma) + (1 - inside) * lq


def baselines(samples: Iterable[Triple], sigmas: Sequence[float]) -> dict[str, object]:
    """Metrics of the mosaic input and of the best Gaussian blur of it on ``samples``.

    Args:
        samples: (lq, gt, mask) clips (T, 3, H, W), (T, 3, H, W), (T, 1, H, W) in [0, 1].
        sigmas: blur sigmas (pixels) to search; the best by PSNR inside the mask is reported.

    Returns:
        ``{"input": metrics, "blur": metrics + {"sigma": s}, "blur_search": {sigma: psnr_mask}}``.
    """
    if not sigmas:
        raise ValueError("no blur sigma to search (sigmas is empty)")
    inp = MetricSums()
    blurs = {float(s): MetricSums() for s in sigmas}
    for lq, gt, mask in samples:
        lq, gt, mask = _as_clip(lq), _as_clip(gt), _as_clip(mask)
        inp.add(lq, gt, mask)
        for sigma, sums in blurs.items():
            sums.add(blur_inside(lq, mask, sigma), gt, mask)
    results = {s: sums.result() for s, sums in blurs.items()}
    best = max(results, key=lambda s: results[s]["psnr_mask"] or -math.inf)
    return {
        "input": inp.result(),
        "blur": {**results[best], "sigma": best},
        "blur_search": {str(s): r["psnr_mask"] for s, r in results.items()},
    }


def evaluate_model(
    restore: Callable[[torch.Tensor], torch.Tensor],
    samples: Iterable[Triple],
    device: torch.device | str = "cpu",
) -> dict[str, float | None]:
    """Metrics of ``restore`` (a batched clip (1, T, 3, H, W) -> same shape) on ``samples``.

    The caller puts the network in eval mode and disables gradients; outputs are clamped to
    [0, 1]. Metrics are those of :class:`MetricSums`.
    """
    sums = MetricSums()
    for lq, gt, mask in samples:
        out = restore(_as_clip(lq).unsqueeze(0).to(device))[0]
        sums.add(out, _as_clip(gt), _as_clip(mask))
    return sums.result()
