"""Restoration spike: train a tiny BasicVSR++ on CPU for a fixed time, PSNR inside the mosaic.

Clips are cut around the demo world's ground-truth masks and pixelated with the mosaic module
when both packages are importable and usable; otherwise synthetic clips (moving crops of
scikit-image photos with a moving elliptic region) get a plain block-average pixelation. The
validation PSNR inside the mosaic is reported as a curve over iterations, against the mosaic
input itself and against the best Gaussian blur of the mosaic (sigma 0.25/0.5/1 x block size,
best on val). Records ``restore_spike`` in ``results/bench.json``.

The loss is the Charbonnier loss weighted 1 inside the mosaic and ``--outside-weight``
outside (the pixels outside are the input already). ``--overfit-iters N`` adds a sanity curve:
a fresh generator fitted to one clip.

Run: ``python bench/restore_spike.py [--minutes 10] [--threads 1] [--overfit-iters 800]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import record, verdict

from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
from mosaicflow.restore.losses import CharbonnierLoss

BLUR_FACTORS = (0.25, 0.5, 1.0)


@dataclass
class Clip:
    """One training/validation clip: RGB float frames in [0, 1] (T, H, W, 3)."""

    truth: np.ndarray
    mosaic: np.ndarray
    mask: np.ndarray  # (T, H, W) bool, the pixelated pixels
    block: int


# -- data: demo world + mosaic module --------------------------------------------------------
def _square_box(mask_union: np.ndarray, frame_hw: tuple[int, int], grow: float) -> tuple[int, ...]:
    ys, xs = np.nonzero(mask_union)
    cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    side = int(max(ys.max() - ys.min(), xs.max() - xs.min()) * grow) + 8
    side = min(side, *frame_hw)
    y0 = int(np.clip(cy - side / 2, 0, frame_hw[0] - side))
    x0 = int(np.clip(cx - side / 2, 0, frame_hw[1] - side))
    return y0, x0, side


def world_clips(size: int, frames: int, seed: int) -> tuple[list[Clip], list[Clip], str]:
    """Clips from rendered demo-world videos (train/val roles), mosaic from mosaicflow.mosaic."""
    from mosaicflow.config import build, validate_config
    from mosaicflow.formats.truth import read_truth
    from mosaicflow.mosaic import MosaicConfig, apply_mosaic, sample_clip_params
    from mosaicflow.video.decode import iter_frames
    from mosaicflow.world import WorldConfig, render_video, video_specs

    config: dict = {}
    validate_config(config)
    specs = video_specs(build(WorldConfig, config["world"]), config["seed"])
    mcfg = build(MosaicConfig, config["mosaic"])
    rng = np.random.default_rng(seed)
    out: dict[str, list[Clip]] = {"train": [], "val": []}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            if spec.role not in out:
                continue
            video, truth = Path(tmp) / f"{spec.name}.mp4", Path(tmp) / f"{spec.name}.mkv"
            render_video(spec, video, truth, Path(tmp) / f"{spec.name}.json")
            rgb = np.stack([f for _, f in iter_frames(video, fmt="rgb24", threads=1)])
            masks = np.stack([m > 0 for _, m in read_truth(truth)])
            stride = frames
            for start in range(0, len(rgb) - frames + 1, stride):
                win = masks[start : start + frames]
                if not all(m.sum() >= 64 for m in win):
                    continue
                y0, x0, side = _square_box(win.any(0), rgb.shape[1:3], grow=1.6)
                params = sample_clip_params(mcfg, win, rgb.shape[1:3], rng)
                params = params.rescaled(size / side)
                crop = rgb[start : start + frames, y0 : y0 + side, x0 : x0 + side]
                mcrop = win[:, y0 : y0 + side, x0 : x0 + side].astype(np.uint8)
                crop = np.stack(
                    [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in crop]
                )
                mcrop = np.stack(
                    [cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST) for m in mcrop]
                )
                mosaic, mmask = apply_mosaic(np.ascontiguousarray(crop), mcrop, params)
                if mmask.sum() == 0 or min(params.block_h, params.block_w) < 2:
                    continue  # a 1-px "mosaic" is the identity
                out[spec.role].append(
                    Clip(crop / 255.0, mosaic / 255.0, mmask > 0, max(params.block_h, 1))
                )
    desc = (
        f"demo world ({sum(s.role == 'train' for s in specs)} train / "
        f"{sum(s.role == 'val' for s in specs)} val videos), mosaicflow.mosaic pixelation"
    )
    return out["train"], out["val"], desc


# -- data: synthetic fallback ----------------------------------------------------------------
def _photos(names: tuple[str, ...]) -> list[np.ndarray]:
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    imgs = []
    for name in names:
        img = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(folder / name)
        imgs.append(np.ascontiguousarray(img[..., ::-1]))
    return imgs


def _pixelate(frames: np.ndarray, masks: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    out, covered = frames.copy(), np.zeros(masks.shape, bool)
    _, h, w = masks.shape
    union = masks.any(0)
    for y in range(0, h, block):
        for x in range(0, w, block):
            if not union[y : y + block, x : x + block].any():
                continue
            covered[:, y : y + block, x : x + block] = True
            cell = frames[:, y : y + block, x : x + block]
            out[:, y : y + block, x : x + block] = cell.mean(axis=(1, 2), keepdims=True)
    return out, covered


def synthetic_clips(
    size: int, frames: int, seed: int, n_train: int = 160, n_val: int = 16
) -> tuple[list[Clip], list[Clip], str]:
    """Moving crops of scikit-image photos with a moving ellipse, block-average pixelated."""
    rng = np.random.default_rng(seed)
    train_photos = _photos(
        ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
    )
    val_photos = _photos(("ihc.png", "hubble_deep_field.jpg", "grass.png", "brick.png"))

    def make(photos: list[np.ndarray], n: int) -> list[Clip]:
        clips = []
        for _ in range(n):
            img = photos[int(rng.integers(len(photos)))]
            scale = max(rng.uniform(0.25, 0.5), (size + 48) / min(img.shape[:2]))
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            vy, vx = rng.uniform(-2, 2, size=2)
            y0 = rng.uniform(8, img.shape[0] - size - 8 - abs(vy) * frames)
            x0 = rng.uniform(8, img.shape[1] - size - 8 - abs(vx) * frames)
            y0, x0 = (
                y0 + (abs(vy) * frames if vy < 0 else 0),
                x0 + (abs(vx) * frames if vx < 0 else 0),
            )
            cy, cx = rng.uniform(0.35, 0.65, size=2) * size
            ry, rx = rng.uniform(0.15, 0.3, size=2) * size
            crop, mask = [], []
            for t in range(frames):
                yy, xx = round(y0 + vy * t), round(x0 + vx * t)
                crop.append(img[yy : yy + size, xx : xx + size])
                m = np.zeros((size, size), np.uint8)
                cv2.ellipse(m, (int(cx + t), int(cy)), (int(rx), int(ry)), 0, 0, 360, 1, -1)
                mask.append(m > 0)
            crop_a, mask_a = np.stack(crop), np.stack(mask)
            block = int(rng.integers(4, 9))
            mosaic, covered = _pixelate(crop_a.astype(np.float64), mask_a, block)
            clips.append(Clip(crop_a / 255.0, mosaic / 255.0, covered, block))
        return clips

    return (
        make(train_photos, n_train),
        make(val_photos, n_val),
        "synthetic: moving crops of scikit-image photos, elliptic region, block-average pixelation",
    )


# -- evaluation ------------------------------------------------------------------------------
def masked_psnr(preds: list[np.ndarray], clips: list[Clip]) -> float:
    """PSNR over all pixelated pixels of all clips (pooled squared error)."""
    se = sum(float(((p - c.truth)[c.mask] ** 2).sum()) for p, c in zip(preds, clips, strict=True))
    n = sum(int(c.mask.sum()) * 3 for c in clips)
    return 10 * math.log10(1.0 / max(se / max(n, 1), 1e-12))


def blur_baselines(clips: list[Clip]) -> dict[str, float]:
    """PSNR in the mosaic of Gaussian-blurred mosaics, sigma = factor x block size."""
    res = {}
    for factor in BLUR_FACTORS:
        preds = []
        for c in clips:
            sigma = factor * c.block
            preds.append(np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in c.mosaic]))
        res[f"{factor:g}"] = masked_psnr(preds, clips)
    return res


def _tensor(clips: list[Clip], attr: str) -> torch.Tensor:
    arr = np.stack([getattr(c, attr) for c in clips]).astype(np.float32)
    return torch.from_numpy(arr).permute(0, 1, 4, 2, 3).contiguous()


def evaluate(model: BasicVSRPlusPlusNet, clips: list[Clip]) -> float:
    model.eval()
    preds = []
    with torch.no_grad():
        for c in clips:
            out = model(_tensor([c], "mosaic")).clamp(0, 1)
            preds.append(out[0].permute(0, 2, 3, 1).numpy().astype(np.float64))
    model.train()
    return masked_psnr(preds, clips)


def loss_weight(clips: list[Clip], outside: float) -> torch.Tensor:
    """Per-pixel loss weight (N, T, 1, H, W): 1 inside the mosaic, ``outside`` elsewhere."""
    inside = torch.from_numpy(np.stack([c.mask for c in clips])).unsqueeze(2).float()
    return inside + outside * (1 - inside)


def overfit_curve(
    clip: Clip, args: argparse.Namespace, iterations: int, every: int = 100
) -> list[dict[str, float]]:
    """Train a fresh generator on ONE clip: PSNR in its mosaic over iterations.

    A sanity check of the network and the optimiser: a generator that cannot fit a single clip
    has a bug; one that fits it but stays flat on the spike lacks iterations or data.
    """
    torch.manual_seed(args.seed)
    model = BasicVSRPlusPlusNet(args.mid, args.blocks)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    loss_fn = CharbonnierLoss()
    lq, gt = _tensor([clip], "mosaic"), _tensor([clip], "truth")
    weight = loss_weight([clip], args.outside_weight)
    curve = [{"iter": 0, "psnr": round(masked_psnr([clip.mosaic], [clip]), 3)}]
    for it in range(1, iterations + 1):
        opt.zero_grad()
        loss_fn(model(lq), gt, weight).backward()
        opt.step()
        if it % every == 0 or it == iterations:
            curve.append({"iter": it, "psnr": round(evaluate(model, [clip]), 3)})
            print("overfit", curve[-1], flush=True)
    return curve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training wall time")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--size", type=int, default=64, help="clip side in pixels")
    parser.add_argument("--frames", type=int, default=5, help="frames per clip")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--mid", type=int, default=16, help="generator mid channels")
    parser.add_argument("--blocks", type=int, default=2, help="residual blocks per branch")
    parser.add_argument("--lr", type=float, default=4e-4)
    parser.add_argument(
        "--outside-weight",
        type=float,
        default=0.1,
        help="loss weight of pixels outside the mosaic (inside = 1; 1 = plain mean)",
    )
    parser.add_argument(
        "--overfit-iters",
        type=int,
        default=0,
        help="also fit a fresh generator to one train clip for this many iterations (sanity)",
    )
    parser.add_argument("--evals", type=int, default=10, help="validation points on the curve")
    parser.add_argument("--source", choices=("auto", "world", "synthetic"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    t0 = time.perf_counter()
    fallback_reason = None
    if args.source in ("auto", "world"):
        try:
            train, val, source = world_clips(args.size, args.frames, args.seed)
            if len(train) < 8 or len(val) < 2:
                raise RuntimeError(f"too few clips from the world ({len(train)}/{len(val)})")
        except Exception as exc:  # the world/mosaic modules may not be ready
            if args.source == "world":
                raise
            fallback_reason = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            train, val, source = synthetic_clips(args.size, args.frames, args.seed)
    else:
        train, val, source = synthetic_clips(args.size, args.frames, args.seed)
    data_s = time.perf_counter() - t0
    print(f"data: {source}; {len(train)} train / {len(val)} val clips ({data_s:.0f} s)")

    mosaic_psnr = masked_psnr([c.mosaic for c in val], val)
    blur = blur_baselines(val)
    best_factor = max(blur, key=blur.get)
    print(f"val PSNR in mosaic: input {mosaic_psnr:.2f}, blur {blur}")

    model = BasicVSRPlusPlusNet(args.mid, args.blocks)
    spynet = [p for n, p in model.named_parameters() if n.startswith("spynet.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("spynet.")]
    opt = torch.optim.Adam(
        [{"params": rest}, {"params": spynet, "lr": args.lr * 0.25}], lr=args.lr, betas=(0.9, 0.99)
    )
    loss_fn = CharbonnierLoss()
    rng = np.random.default_rng(args.seed + 1)
    budget = args.minutes * 60
    eval_every = budget / args.evals
    curve = [{"iter": 0, "train_s": 0.0, "psnr": round(evaluate(model, val), 3)}]
    print(curve[-1])
    train_s, it, next_eval, losses = 0.0, 0, eval_every, []
    while train_s < budget:
        start = time.perf_counter()
        batch = [train[int(i)] for i in rng.integers(len(train), size=args.batch)]
        if rng.random() < 0.5:  # horizontal flip augmentation
            batch = [
                Clip(c.truth[:, :, ::-1], c.mosaic[:, :, ::-1], c.mask[:, :, ::-1], c.block)
                for c in batch
            ]
        lq, gt = _tensor(batch, "mosaic"), _tensor(batch, "truth")
        opt.zero_grad()
        loss = loss_fn(model(lq), gt, loss_weight(batch, args.outside_weight))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        it += 1
        train_s += time.perf_counter() - start
        if train_s >= next_eval or train_s >= budget:
            curve.append(
                {
                    "iter": it,
                    "train_s": round(train_s, 1),
                    "loss": round(float(np.mean(losses[-20:])), 5),
                    "psnr": round(evaluate(model, val), 3),
                }
            )
            print(curve[-1], flush=True)
            next_eval += eval_every

    final = curve[-1]["psnr"]
    entry = {
        "data": source,
        "fallback_reason": fallback_reason,
        "train_clips": len(train),
        "val_clips": len(val),
        "clip": {"size": args.size, "frames": args.frames, "batch": args.batch},
        "model": {"mid_channels": args.mid, "num_blocks": args.blocks, "lr": args.lr},
        "loss_outside_weight": args.outside_weight,
        "threads": args.threads,
        "minutes": args.minutes,
        "iterations": it,
        "s_per_iter": round(train_s / max(it, 1), 3),
        "val_block_px": sorted(c.block for c in val),
        "val_mask_fraction": round(float(np.mean([c.mask.mean() for c in val])), 3),
        "val_psnr_mosaic_input": round(mosaic_psnr, 3),
        "val_psnr_blur": {k: round(v, 3) for k, v in blur.items()},
        "val_psnr_blur_best": round(blur[best_factor], 3),
        "blur_best_sigma_x_block": float(best_factor),
        "curve": curve,
        "final_psnr": final,
        "gain_over_mosaic_db": round(final - mosaic_psnr, 3),
        "gain_over_best_blur_db": round(final - blur[best_factor], 3),
        "verdict": verdict(final - blur[best_factor], 0.0),
    }
    if args.overfit_iters:
        entry["overfit_one_clip"] = overfit_curve(train[0], args, args.overfit_iters)
    record("restore_spike", entry, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
