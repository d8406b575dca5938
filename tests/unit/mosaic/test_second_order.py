"""The second-order degradation pipeline: kernels, plans, application, its place in degrade()."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mosaicflow.config import ConfigError
from mosaicflow.mosaic.config import KERNELS
from mosaicflow.mosaic.degrade import degrade
from mosaicflow.mosaic.second_order import apply_plan, draw_plan, kernel, sinc_kernel

from .conftest import make_cfg

ALWAYS = {"blur": {"p": 1.0}, "resize": {"p": 1.0}, "noise": {"p": 1.0}, "jpeg": {"p": 1.0}}


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    import skimage.data

    photo = skimage.data.astronaut()
    return np.stack([photo[100 + 2 * i : 164 + 2 * i, 150 + 3 * i : 230 + 3 * i] for i in range(4)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("family", KERNELS)
def test_kernels_are_normalised_peaked_and_shaped(family):
    k = kernel(family, 15, (1.0, 3.0), 0.0, beta=2.0)
    assert k.shape == (15, 15) and k.dtype == np.float32
    assert abs(float(k.sum()) - 1.0) < 1e-5
    assert k[7, 7] == k.max()
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)  # point symmetric
    if family.endswith("aniso"):
        assert k[10, 7] > k[7, 10]  # sigma 1 along x (columns), 3 along y (rows)
    else:
        np.testing.assert_allclose(k, k.T, atol=1e-7)


def test_rotation_turns_an_anisotropic_kernel():
    flat = kernel("aniso", 15, (1.0, 3.0), 0.0)
    turned = kernel("aniso", 15, (1.0, 3.0), np.pi / 2)
    np.testing.assert_allclose(flat, turned.T, atol=1e-6)


def test_sinc_kernel_is_a_low_pass_that_rings():
    k = sinc_kernel(np.pi / 3, 21)
    assert abs(float(k.sum()) - 1.0) < 1e-5 and k[10, 10] == k.max()
    assert k.min() < 0  # the side lobes: ringing
    response = np.abs(np.fft.fft2(k, (64, 64)))
    assert response[0, 0] > 0.99 and response[32, 32] < 0.1


def test_bad_kernel_arguments():
    with pytest.raises(ValueError, match="unknown kernel family"):
        kernel("box", 7, (1.0, 1.0), 0.0)
    with pytest.raises(ValueError, match="odd"):
        sinc_kernel(1.0, 8)


def test_plan_is_json_and_reproducible(clip):
    cfg = make_cfg(degradations={"second_order": {"p": 1.0, "first": ALWAYS, "second": ALWAYS}})
    so = cfg.degradations.second_order
    plan = draw_plan(so, np.random.default_rng(3))
    assert plan == json.loads(json.dumps(plan))
    assert set(plan["first"]) == {"blur", "resize", "noise", "jpeg"}
    assert plan == draw_plan(so, np.random.default_rng(3))
    a, b = apply_plan(clip, plan), apply_plan(clip, plan)
    assert a.shape == clip.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert 15 < psnr(a, clip) < 40  # degraded, still the same picture


def test_plans_cover_the_families_and_directions():
    cfg = make_cfg(degradations={"second_order": {"p": 1.0, "first": ALWAYS, "second": ALWAYS}})
    rng = np.random.default_rng(0)
    plans = [draw_plan(cfg.degradations.second_order, rng) for _ in range(300)]
    kernels = {p["first"]["blur"]["kernel"] for p in plans}
    assert kernels == {*KERNELS, "sinc"}
    scales = [p["first"]["resize"]["scale"] for p in plans]
    assert min(scales) < 0.6 and max(scales) > 1.15 and 1.0 in scales
    assert {p["first"]["noise"]["kind"] for p in plans} == {"gaussian", "poisson"}
    assert {p["first"]["noise"]["gray"] for p in plans} == {True, False}
    assert {p["final"]["order"] for p in plans} == {"jpeg_first", "resize_first"}


def test_nothing_drawn_to_happen_keeps_the_clip(clip):
    never = {step: {"p": 0.0} for step in ("blur", "resize", "noise", "jpeg")}
    cfg = make_cfg(
        degradations={
            "second_order": {"p": 1.0, "first": never, "second": never, "final_sinc_p": 0.0}
        }
    )
    plan = draw_plan(cfg.degradations.second_order, np.random.default_rng(1))
    assert plan["first"] == {} and plan["second"] == {} and "sinc" not in plan["final"]
    out = apply_plan(clip, plan)
    np.testing.assert_array_equal(out, clip)
    assert out is not clip


def test_grey_noise_is_the_same_on_every_channel():
    flat = np.full((2, 32, 32, 3), 128, np.uint8)
    for kind, level in (("gaussian", {"sigma": 8.0}), ("poisson", {"scale": 1.0})):
        noise = {"kind": kind, "gray": True, "seed": 5, **level}
        plan = {"first": {"noise": noise}, "second": {}, "final": _final()}
        out = apply_plan(flat, plan).astype(int)
        assert out.std() > 2, kind
        np.testing.assert_array_equal(out[..., 0], out[..., 1])
        colour = apply_plan(flat, {**plan, "first": {"noise": {**noise, "gray": False}}})
        assert (colour[..., 0] != colour[..., 1]).any(), kind


def _final() -> dict:
    return {"order": "resize_first", "interpolation": "area"}


def test_downscale_loses_detail_and_comes_back_to_size(clip):
    plan = {
        "first": {"resize": {"scale": 0.5, "interpolation": "area"}},
        "second": {},
        "final": {"order": "resize_first", "interpolation": "bicubic"},
    }
    out = apply_plan(clip, plan)
    assert out.shape == clip.shape
    assert psnr(out, clip) < psnr(apply_plan(clip, {**plan, "first": {}}), clip)


def test_degrade_uses_it_and_records_it(clip):
    cfg = make_cfg(degradations={"second_order": {"p": 1.0}})
    out, applied = degrade(clip, cfg.degradations, np.random.default_rng(2))
    assert "second_order" in applied
    assert not {"blur", "noise", "jpeg"} & set(applied)  # it replaces the first-order mix
    assert json.loads(json.dumps(applied)) == applied and out.shape == clip.shape
    again, _ = degrade(clip, cfg.degradations, np.random.default_rng(2))
    np.testing.assert_array_equal(out, again)


def test_off_draws_nothing(clip):
    """With ``p`` 0 the generator is not asked for the family: datasets keep their bytes."""
    off = make_cfg(degradations={"second_order": {"p": 0}}).degradations
    tiny = make_cfg(degradations={"second_order": {"p": 1e-12}}).degradations
    rng_off, rng_tiny = np.random.default_rng(9), np.random.default_rng(9)
    out_off, applied_off = degrade(clip, off, rng_off)
    out_tiny, applied_tiny = degrade(clip, tiny, rng_tiny)
    np.testing.assert_array_equal(out_off, out_tiny)
    assert applied_off == applied_tiny and "second_order" not in applied_off
    assert rng_off.random() != rng_tiny.random()  # only a family that is on draws its plan


@pytest.mark.parametrize(
    "override, message",
    [
        (
            {"first": {"resize": {"scale": [1.1, 1.3]}}},
            r"second_order\.first\.resize\.scale.*hold 1",
        ),
        (
            {"first": {"blur": {"kernels": dict.fromkeys(KERNELS, 0.0)}}},
            r"second_order\.first\.blur\.kernels.*positive sum",
        ),
        (
            {"second": {"resize": {"up": 0, "down": 0, "keep": 0}}},
            r"second_order\.second\.resize'.*positive sum",
        ),
        ({"first": {"blur": {"size": [9, 7]}}}, r"second_order\.first\.blur\.size.*low <= high"),
        ({"second": {"blur": {"size": [8, 8]}}}, r"second_order\.second\.blur\.size.*no odd"),
        ({"second": {"jpeg": {"quality": [90, 50]}}}, r"second_order\.second\.jpeg\.quality"),
    ],
)
def test_config_errors_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        make_cfg(degradations={"second_order": override})
