"""Validation metrics: masked/whole PSNR and SSIM, and the input / best-blur baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from mosaicflow.restore.metrics import (
    MetricSums,
    baselines,
    blur_inside,
    evaluate_model,
    gaussian_blur,
    ssim_map,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _clip(seed: int = 0, t: int = 2, size: int = 32) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(t, 3, size, size, generator=g)
    mask = torch.zeros(t, 1, size, size)
    mask[:, :, 8:24, 4:20] = 1
    lq = (
        mask
        * torch.nn.functional.avg_pool2d(gt, 4).repeat_interleave(4, -1).repeat_interleave(4, -2)
        + (1 - mask) * gt
    )
    return lq, gt, mask


def test_masked_psnr_is_pooled_over_mask_pixels():
    _, gt, mask = _clip()
    pred = gt.clone()
    pred[:, :, 8:24, 4:20] += 0.1  # error only inside the mask
    pred[:, :, 0, 0] += 0.5  # and one pixel outside
    sums = MetricSums()
    sums.add(pred, gt, mask)
    res = sums.result()
    inside = mask.bool().expand_as(gt)
    mse_in = float(((pred.clamp(0, 1) - gt)[inside] ** 2).mean())
    mse_all = float(((pred.clamp(0, 1) - gt) ** 2).mean())
    assert res["psnr_mask"] == pytest.approx(10 * math.log10(1 / mse_in), abs=1e-3)
    assert res["psnr"] == pytest.approx(10 * math.log10(1 / mse_all), abs=1e-3)


def test_empty_mask_gives_none_inside():
    _, gt, mask = _clip()
    sums = MetricSums()
    sums.add(gt, gt, torch.zeros_like(mask))
    res = sums.result()
    assert res["psnr_mask"] is None and res["ssim_mask"] is None
    assert res["ssim"] == pytest.approx(1.0)


def test_ssim_matches_scikit_image_away_from_the_border():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(1, 3, 40, 40, generator=g)
    b = (a + 0.1 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    _, full = structural_similarity(
        a[0].permute(1, 2, 0).numpy(),
        b[0].permute(1, 2, 0).numpy(),
        channel_axis=2,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    ours = ssim_map(a, b)[0, 0, 5:-5, 5:-5].numpy()
    np.testing.assert_allclose(ours, full[5:-5, 5:-5].mean(axis=2), atol=1e-5)


def test_gaussian_blur_keeps_constants_and_smooths():
    flat = torch.full((1, 3, 16, 16), 0.3)
    torch.testing.assert_close(gaussian_blur(flat, 2.0), flat)
    noise = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert gaussian_blur(noise, 2.0).std() < noise.std() / 2


def test_baselines_input_and_best_blur():
    samples = [_clip(0), _clip(1)]
    base = baselines(samples, [0.5, 1.0, 2.0, 4.0])
    sums = MetricSums()
    for lq, gt, mask in samples:
        sums.add(lq, gt, mask)
    assert base["input"] == sums.result()
    search = {float(k): v for k, v in base["blur_search"].items()}
    best = max(search, key=search.get)
    assert base["blur"]["sigma"] == best
    assert base["blur"]["psnr_mask"] == max(search.values())
    # outside the mask the blur baseline is the input
    lq, _, mask = samples[0]
    blurred = blur_inside(lq, mask, 2.0)
    assert torch.equal(blurred[mask.expand_as(lq) == 0], lq[mask.expand_as(lq) == 0])
    with pytest.raises(ValueError, match=r"no blur sigma to search \(sigmas is empty\)"):
        baselines(samples, [])


def test_evaluate_model_identity_equals_input_baseline():
    samples = [_clip(0), _clip(1)]
    res = evaluate_model(lambda x: x, samples)
    assert res == baselines(samples, [1.0])["input"]
    perfect = evaluate_model(lambda x: x, [(gt, gt, m) for _, gt, m in samples])
    assert perfect["psnr_mask"] >= 100 and perfect["ssim_mask"] == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(1, 3, 40, 56), (2, 1, 4, 9)])
def test_float64_filtering_on_the_cpu_matches_torch_convolution(shape):
    import torch.nn.functional as F

    from mosaicflow.restore.metrics import _gaussian_kernel, _separable

    x = torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    kernel = _gaussian_kernel(1.5, radius=5)
    c, r = shape[1], 5
    mode = "reflect" if min(shape[-2:]) > r else "replicate"  # the small one replicates
    k = kernel.to(x)
    ref = F.conv2d(F.pad(x, (r, r, 0, 0), mode=mode), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
                   groups=c)  # fmt: skip
    ref = F.conv2d(F.pad(ref, (0, 0, r, r), mode=mode), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
                   groups=c)  # fmt: skip
    out = _separable(x, kernel)
    assert out.dtype == torch.float64 and out.shape == x.shape
    assert torch.allclose(out, ref, rtol=0, atol=1e-14)
