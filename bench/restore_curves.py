"""Restoration learning curves on a finished run's clips, one candidate cause changed at a time.

Reads the clip index of a run (``results/restoration_dataset/index.parquet``), draws a fixed set
of training samples and validation samples with the run's mosaic settings (the demo's by
default), and trains each named variant of the stage-1 generator for the same number of
iterations on the same samples in the same order. Every ``--every`` iterations it records the
PSNR inside the mosaic mask on the validation samples, against the mosaic input and the best
Gaussian blur of it. Prints one table per variant and writes all curves to ``--out`` (JSON).

Run: ``python bench/restore_curves.py --index .test-work/demo/results/restoration_dataset/
index.parquet --iters 300 --variants base,mask_mse``. ``--list`` names the variants.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from mosaicflow.config import build, validate_config
from mosaicflow.devices import torch_device
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.losses import pixel_loss, pixel_weight
from mosaicflow.restore.metrics import baselines, evaluate_model

BLUR_SIGMAS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)


@dataclass(frozen=True)
class Variant:
    """One training set-up: the network, the loss and the optimiser settings."""

    mid: int = 16
    blocks: int = 2
    loss: str = "charbonnier"  # charbonnier | mse
    outside: float = 1.0  # loss weight outside the mask
    lr: float = 4e-4
    schedule: str = "cosine"  # cosine | constant
    zero_last: bool = False
    zero_flow: bool = False  # SPyNet frozen at zero flow
    spynet_mult: float = 0.25
    batch: int = 1
    hr_skip: bool = False
    arch: str = "basicvsrpp"  # basicvsrpp | cnn (5 plain convs, residual to the input)


VARIANTS: dict[str, Variant] = {
    "base": Variant(),
    "mask": Variant(outside=0.0),
    "mse": Variant(loss="mse"),
    "mask_mse": Variant(loss="mse", outside=0.0),
    "mask_mse_lr1e3": Variant(loss="mse", outside=0.0, lr=1e-3),
    "mask_mse_lr2e3": Variant(loss="mse", outside=0.0, lr=2e-3),
    "mask_mse_lr1e3_const": Variant(loss="mse", outside=0.0, lr=1e-3, schedule="constant"),
    "mask_mse_32": Variant(loss="mse", outside=0.0, mid=32),
    "mask_mse_zeroflow": Variant(loss="mse", outside=0.0, zero_flow=True),
    "mask_lr1e3": Variant(outside=0.0, lr=1e-3),
    "lr1e3": Variant(lr=1e-3),
    "mask_mse_b4": Variant(loss="mse", outside=0.0, batch=4),
    "zf_mask_mse_lr1e3": Variant(loss="mse", outside=0.0, lr=1e-3, zero_flow=True),
    "zf_mask_mse_lr3e3": Variant(loss="mse", outside=0.0, lr=3e-3, zero_flow=True),
    "zf_mask_lr1e3": Variant(outside=0.0, lr=1e-3, zero_flow=True),
    "cnn_mask_mse_lr1e3": Variant(loss="mse", outside=0.0, lr=1e-3, arch="cnn"),
    "cnn_mask_lr1e3": Variant(outside=0.0, lr=1e-3, arch="cnn"),
    "hr_mask_mse_lr1e3": Variant(loss="mse", outside=0.0, lr=1e-3, hr_skip=True),
    "zf_hr_mask_mse_lr1e3": Variant(loss="mse", outside=0.0, lr=1e-3, hr_skip=True, zero_flow=True),
    "hr_mask_lr1e3": Variant(outside=0.0, lr=1e-3, hr_skip=True),
    "hr_base": Variant(hr_skip=True),
    "zf_hr_mask_lr1e3": Variant(outside=0.0, lr=1e-3, hr_skip=True, zero_flow=True),
    "zf_hr_mask_mse_lr1e3_32x4": Variant(
        loss="mse", outside=0.0, lr=1e-3, hr_skip=True, zero_flow=True, mid=32, blocks=4
    ),
    "zf_hr_mask_mse_lr1e3_b4": Variant(
        loss="mse", outside=0.0, lr=1e-3, hr_skip=True, zero_flow=True, batch=4
    ),
    "quarter_mask_mse_lr1e3": Variant(loss="mse", outside=0.0, lr=1e-3, arch="quarter"),
}


class QuarterCNN(torch.nn.Module):
    """BasicVSR++'s per-frame path without propagation: two stride-2 convolutions, convs at a
    quarter of the resolution, two x2 pixel shuffles back, residual to the input."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        act = torch.nn.LeakyReLU(0.1)
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, c, 3, 2, 1),
            act,
            torch.nn.Conv2d(c, c, 3, 2, 1),
            act,
            torch.nn.Conv2d(c, c, 3, 1, 1),
            act,
            torch.nn.Conv2d(c, c, 3, 1, 1),
            act,
            torch.nn.Conv2d(c, 4 * c, 3, 1, 1),
            torch.nn.PixelShuffle(2),
            act,
            torch.nn.Conv2d(c, 4 * c, 3, 1, 1),
            torch.nn.PixelShuffle(2),
            act,
            torch.nn.Conv2d(c, c, 3, 1, 1),
            act,
            torch.nn.Conv2d(c, 3, 3, 1, 1),
        )

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        n, t = lqs.shape[:2]
        x = lqs.reshape(n * t, *lqs.shape[2:])
        return (x + self.body(x)).view_as(lqs)


class PlainCNN(torch.nn.Module):
    """The control: five 3x3 convolutions per frame (32 channels), residual to the input."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        cin = 3
        for _ in range(4):
            layers += [torch.nn.Conv2d(cin, channels, 3, 1, 1), torch.nn.LeakyReLU(0.1)]
            cin = channels
        layers.append(torch.nn.Conv2d(cin, 3, 3, 1, 1))
        self.body = torch.nn.Sequential(*layers)

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        n, t = lqs.shape[:2]
        x = lqs.reshape(n * t, *lqs.shape[2:])
        return (x + self.body(x)).view_as(lqs)


def demo_sections() -> dict:
    config: dict = {"profile": "demo"}
    validate_config(config)
    return config


def draw_samples(index: Path, n_train: int, frames: int, size: int, seed: int):
    """``n_train`` training triples and the validation triples (val clips at 3 seeds)."""
    from mosaicflow.datasets.clips.torch_dataset import to_tensors
    from mosaicflow.restore.jobs import clip_sets

    mosaic = build(MosaicConfig, demo_sections()["mosaic"])
    train_set, _ = clip_sets(index, mosaic, frames, size, seed)
    train = []
    for k in range(n_train):
        train.append(to_tensors(train_set.sample(k % len(train_set), draw=k)))
    val = []
    for offset in (1, 2, 3):
        _, v = clip_sets(index, mosaic, frames, size, seed + offset - 1)
        val += [v[i] for i in range(len(v))]
    return train, val


def save_samples(path: Path, train: list, val: list) -> None:
    """Write drawn samples as 8-bit arrays (``.npz``), for a machine without the run's clips."""
    import numpy as np

    def pack(triples: list) -> dict:
        lq, gt, mask = (torch.stack([t[i] for t in triples]) for i in range(3))
        q = lambda x: (x * 255).round().clamp(0, 255).to(torch.uint8).numpy()  # noqa: E731
        return {"lq": q(lq), "gt": q(gt), "mask": (mask > 0.5).numpy()}

    packed = {f"{k}_{name}": a for k, part in (("train", train), ("val", val))
              for name, a in pack(part).items()}  # fmt: skip
    np.savez_compressed(path, **packed)


def load_samples(path: Path) -> tuple[list, list]:
    """The samples of :func:`save_samples` as float triples in [0, 1]."""
    import numpy as np

    data = np.load(path)

    def unpack(k: str) -> list:
        lq, gt = (torch.from_numpy(data[f"{k}_{n}"]).float() / 255 for n in ("lq", "gt"))
        mask = torch.from_numpy(data[f"{k}_mask"]).float()
        return list(zip(lq, gt, mask, strict=True))

    return unpack("train"), unpack("val")


def make_loss(v: Variant) -> Callable:
    """The stages' pixel loss and mask weighting (``pixel_loss``, ``outside_weight``)."""
    pixel = pixel_loss(v.loss)
    return lambda pred, gt, mask: pixel(pred, gt, pixel_weight(mask, v.outside))


def run_variant(
    name: str, v: Variant, train, val, iters: int, every: int, seed: int, device: torch.device
) -> dict:
    torch.manual_seed(seed)
    model = {
        "basicvsrpp": lambda: BasicVSRPlusPlusNet(v.mid, v.blocks, hr_skip=v.hr_skip),
        "cnn": PlainCNN,
        "quarter": QuarterCNN,
    }[v.arch]().to(device)
    if v.zero_last:
        torch.nn.init.zeros_(model.conv_last.weight)
        torch.nn.init.zeros_(model.conv_last.bias)
    if v.zero_flow and v.arch == "basicvsrpp":
        model.spynet.requires_grad_(False)
    spy = [p for n, p in model.named_parameters() if n.startswith("spynet.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("spynet.")]
    opt = torch.optim.Adam(
        [{"params": rest}, {"params": spy, "lr": v.lr * v.spynet_mult}],
        lr=v.lr,
        betas=(0.9, 0.99),
    )
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters, 1e-7)
        if v.schedule == "cosine"
        else None
    )
    loss_fn = make_loss(v)

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            r = evaluate_model(lambda lq: model(lq).clamp(0, 1).cpu(), iter(val), device)
        model.train()
        return r["psnr_mask"]

    curve = [{"iter": 0, "psnr_mask": evaluate()}]
    start = time.perf_counter()
    k = 0
    for it in range(1, iters + 1):
        batch = [train[(k + j) % len(train)] for j in range(v.batch)]
        k += v.batch
        lq, gt, mask = (torch.stack([b[i] for b in batch]).to(device) for i in range(3))
        loss = loss_fn(model(lq), gt, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        if it % every == 0 or it == iters:
            curve.append({"iter": it, "psnr_mask": evaluate(), "loss": float(loss.detach())})
            elapsed = time.perf_counter() - start
            psnr = curve[-1]["psnr_mask"]
            print(f"  {name} {it:5d} psnr_mask {psnr} ({elapsed:.0f} s)", flush=True)
    return {
        "variant": v.__dict__,
        "curve": curve,
        "s_per_iter": (time.perf_counter() - start) / max(iters, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--train-samples", type=int, default=400)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", default="base")
    parser.add_argument("--out", type=Path, default=Path("results/restore_curves.json"))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--save-samples", type=Path, help="write the drawn samples here (.npz)")
    parser.add_argument("--samples", type=Path, help="read samples from --save-samples instead")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for name, v in VARIANTS.items():
            print(name, v)
        return
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.samples is not None:
        train, val = load_samples(args.samples)
    else:
        train, val = draw_samples(args.index, args.train_samples, args.frames, args.size, args.seed)
    if args.save_samples is not None:
        save_samples(args.save_samples, train, val)
    device = torch_device(args.device)
    base = baselines(iter(val), BLUR_SIGMAS)
    print(f"samples drawn in {time.perf_counter() - t0:.0f} s: {len(train)} train, {len(val)} val")
    print(
        f"input {base['input']['psnr_mask']}  blur {base['blur']['psnr_mask']} "
        f"(sigma {base['blur']['sigma']})"
    )
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results["baselines"] = base
    for name in args.variants.split(","):
        results[name] = run_variant(
            name, VARIANTS[name], train, val, args.iters, args.every, args.seed, device
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
