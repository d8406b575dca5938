"""SPyNet distilled from a classical optical flow (OpenCV's DIS): can it be pretrained here?

Two scales, each trained from the generator's initial SPyNet (zero flow) with Adam on the
end-point error (EPE) against the teacher, both directions of every pair, and scored on held-out
pairs against a zero flow:

- ``clips``: the generator's own flow scale. Pairs of neighbouring frames of a run's training
  clips at the stage-1 crop size, pixelated like stage 1 (``--input mosaic``) or clean; the
  teacher is DIS on the clean pair, area-reduced to 1/4 size; the student is SPyNet called as the
  generator calls it (1/4-size bicubic frames, reflect-padded to 64 px). Held out: the run's
  ``val`` clips at six mosaic seeds.
- ``frames``: full-resolution neighbouring frames of videos (``--videos``), random square crops;
  the teacher is DIS on the whole frames. Held out: the pairs of ``--val-videos``.

``prepare`` draws the ``clips`` pairs of a finished run into an ``.npz`` (the run's clips are
not needed afterwards, e.g. on a GPU machine); ``train`` trains and prints the held-out EPE every
``--every`` iterations, for ``--iters`` iterations or ``--budget-s`` seconds.

Run: ``python bench/spynet_distill.py prepare --index .test-work/demo/results/
restoration_dataset/index.parquet --out pairs.npz``, then ``python bench/spynet_distill.py train
--pairs pairs.npz --input mosaic --device cuda --budget-s 75``.
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from mosaicflow.config import build
from mosaicflow.devices import torch_device
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.restore.basicvsrpp import quarter_size, spynet_flow
from mosaicflow.restore.spynet import SPyNet

SEED = 20261121


def dis_flow(ref: np.ndarray, supp: np.ndarray) -> np.ndarray:
    """DIS (medium preset) flow warping ``supp`` onto ``ref`` (RGB uint8), (H, W, 2) pixels."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (ref, supp)]
    return dis.calc(gray[0], gray[1], None)


def quarter_flow(ref: np.ndarray, supp: np.ndarray) -> np.ndarray:
    """The teacher at the generator's flow scale: DIS area-reduced to 1/4 size, (2, h, w)."""
    flow = dis_flow(ref, supp)
    h, w = ref.shape[:2]
    small = cv2.resize(flow, (w // 4, h // 4), interpolation=cv2.INTER_AREA) / 4.0
    return small.transpose(2, 0, 1).astype(np.float16)


def epe(flow: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pair mean end-point error of (N, 2, h, w) flows."""
    return torch.linalg.vector_norm(flow - target, dim=1).flatten(1).mean(dim=1)


def prepare(index: Path, out: Path, n_train: int, size: int) -> None:
    """Draw ``n_train`` training and the held-out two-frame samples of a run's clips."""
    from mosaicflow.config import validate_config
    from mosaicflow.restore.jobs import clip_sets

    config: dict = {"profile": "demo"}
    validate_config(config)

    def draw(dataset, n: int, train: bool) -> tuple[np.ndarray, ...]:
        lq, gt, teacher = [], [], []
        for k in range(n):
            s = dataset.sample(k % len(dataset), draw=k if train else None)
            lq.append(s["lq"])
            gt.append(s["gt"])
            teacher.append([quarter_flow(*s["gt"]), quarter_flow(*s["gt"][::-1])])
        return np.stack(lq), np.stack(gt), np.asarray(teacher)

    mosaic = build(MosaicConfig, config["mosaic"])
    train, _ = clip_sets(index, mosaic, 2, size, SEED)
    arrays = dict(zip(("train_lq", "train_gt", "train_t"), draw(train, n_train, True), strict=True))
    held = []
    for k in range(1, 7):
        _, val = clip_sets(index, mosaic, 2, size, SEED + k)
        held.append(draw(val, len(val), False))
    for name, part in zip(("val_lq", "val_gt", "val_t"), zip(*held, strict=True), strict=True):
        arrays[name] = np.concatenate(part)
    np.savez_compressed(out, **arrays)
    print({k: v.shape for k, v in arrays.items()})


def both_directions(frames: torch.Tensor, teacher: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(N, 2, 3, H, W) pairs and (N, 2, 2, h, w) teachers -> ref, supp, teacher of 2N pairs."""
    ref = torch.cat([frames[:, 0], frames[:, 1]])
    supp = torch.cat([frames[:, 1], frames[:, 0]])
    return ref, supp, torch.cat([teacher[:, 0], teacher[:, 1]])


def clip_data(pairs: Path, input: str, device: torch.device) -> tuple[dict, dict]:
    """Training and held-out tensors of a ``prepare`` file; the student sees 1/4-size frames."""
    data = np.load(pairs)

    def part(split: str) -> dict:
        frames = torch.from_numpy(data[f"{split}_{input}"]).permute(0, 1, 4, 2, 3)
        teacher = torch.from_numpy(data[f"{split}_t"].astype(np.float32))
        return {"frames": frames.to(device), "teacher": teacher.to(device)}

    return part("train"), part("val")


def frame_data(pattern: str, limit: int, device: torch.device) -> dict:
    """Neighbouring frame pairs (both directions) of the videos matching ``pattern``."""
    ref, supp, teacher = [], [], []
    for path in sorted(glob.glob(pattern)):
        cap, frames = cv2.VideoCapture(path), []
        while len(frames) < limit:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        for k in range(len(frames) - 1):
            for a, b in ((k, k + 1), (k + 1, k)):
                ref.append(frames[a])
                supp.append(frames[b])
                teacher.append(dis_flow(frames[a], frames[b]).transpose(2, 0, 1))
    if not ref:
        raise SystemExit(f"no frame pairs in {pattern}")
    stack = lambda xs: torch.from_numpy(np.stack(xs)).to(device)  # noqa: E731
    return {
        "ref": stack(ref).permute(0, 3, 1, 2),
        "supp": stack(supp).permute(0, 3, 1, 2),
        "teacher": stack(teacher),
    }


def train(args: argparse.Namespace) -> None:
    device = torch_device(args.device)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    as_float = lambda x: x.float().div(255)  # noqa: E731
    if args.pairs is not None:
        tr, va = clip_data(args.pairs, args.input, device)
        n = len(tr["teacher"])
        held = both_directions(as_float(va["frames"]), va["teacher"])

        def flow(net, ref, supp):
            return spynet_flow(net, quarter_size(ref), quarter_size(supp))

        def batch():
            idx = torch.randint(0, n, (args.batch,), generator=gen).to(device)
            return both_directions(as_float(tr["frames"][idx]), tr["teacher"][idx])
    else:
        tr = frame_data(args.videos, args.frames, device)
        va = frame_data(args.val_videos, args.frames, device)
        n, crop = len(tr["teacher"]), args.crop
        held = (as_float(va["ref"]), as_float(va["supp"]), va["teacher"])

        def flow(net, ref, supp):
            return net(ref, supp)

        def batch():
            idx = torch.randint(0, n, (2 * args.batch,), generator=gen).to(device)
            h, w = tr["ref"].shape[-2:]
            y = int(torch.randint(0, h - crop + 1, (1,), generator=gen))
            x = int(torch.randint(0, w - crop + 1, (1,), generator=gen))
            cut = lambda t: t[idx][..., y : y + crop, x : x + crop]  # noqa: E731
            return as_float(cut(tr["ref"])), as_float(cut(tr["supp"])), cut(tr["teacher"])

    @torch.no_grad()
    def score(net) -> float:
        net.eval()
        errors = [epe(flow(net, held[0][i : i + 64], held[1][i : i + 64]), held[2][i : i + 64])
                  for i in range(0, len(held[2]), 64)]  # fmt: skip
        net.train()
        return round(float(torch.cat(errors).mean()), 4)

    zero = round(float(epe(torch.zeros_like(held[2]), held[2]).mean()), 4)
    net = SPyNet().to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    curve, start, it = [{"iter": 0, "epe": score(net)}], time.perf_counter(), 0
    print(f"{n} training pairs, {len(held[2])} held out; zero flow EPE {zero}", flush=True)
    while it < args.iters and time.perf_counter() - start < args.budget_s:
        ref, supp, teacher = batch()
        loss = epe(flow(net, ref, supp), teacher).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        it += 1
        if it % args.every == 0:
            curve.append({"iter": it, "epe": score(net), "s": round(time.perf_counter() - start)})
            print(curve[-1], flush=True)
    result = {"args": {k: str(v) for k, v in vars(args).items()}, "zero_flow_epe": zero,
              "curve": curve, "s_per_iter": (time.perf_counter() - start) / max(it, 1)}  # fmt: skip
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="draw a run's clip pairs into an .npz")
    prep.add_argument("--index", type=Path, required=True)
    prep.add_argument("--out", type=Path, required=True)
    prep.add_argument("--train-samples", type=int, default=1000)
    prep.add_argument("--size", type=int, default=64)
    run = sub.add_parser("train", help="distil and score on held-out pairs")
    run.add_argument("--pairs", type=Path, help="a prepare file (clip scale)")
    run.add_argument("--input", choices=("lq", "gt"), default="lq", help="mosaicked or clean")
    run.add_argument("--videos", help="glob of training videos (frame scale)")
    run.add_argument("--val-videos", help="glob of held-out videos (frame scale)")
    run.add_argument("--frames", type=int, default=120, help="frames read per video")
    run.add_argument("--crop", type=int, default=128)
    run.add_argument("--batch", type=int, default=32, help="pairs per step (x2 directions)")
    run.add_argument("--lr", type=float, default=1e-3)
    run.add_argument("--iters", type=int, default=10**9)
    run.add_argument("--budget-s", type=float, default=75.0)
    run.add_argument("--every", type=int, default=250)
    run.add_argument("--device", default="cpu")
    run.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.index, args.out, args.train_samples, args.size)
    elif args.pairs is None and not (args.videos and args.val_videos):
        parser.error("train needs --pairs, or --videos and --val-videos")
    else:
        train(args)


if __name__ == "__main__":
    main()
