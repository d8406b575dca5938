"""Restoration speed: forward+backward iterations/s and peak memory of BasicVSR++ training.

Measures one Adam step with the Charbonnier loss per iteration for the full size (mid 64,
15 blocks, 256 px) at T=30 and T=16 and the tiny size (mid 16, 2 blocks), on the device given
(CPU by default). Peak memory is the process's peak RSS growth on CPU (``ru_maxrss``; each case
runs in a fresh subprocess so the peaks do not mix) and ``torch.cuda.max_memory_allocated`` on
CUDA. Records ``restore_speed`` in ``results/bench.json``.

Run: ``python bench/restore_speed.py [--device cpu] [--threads 2] [--cases full-t16-b1,...]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import record

# name: (mid_channels, num_blocks, size, frames, batch, iterations)
CASES = {
    "full-t30-b1": (64, 15, 256, 30, 1, 1),
    "full-t16-b1": (64, 15, 256, 16, 1, 1),
    "full-t16-b2": (64, 15, 256, 16, 2, 1),
    "full-t30-b2": (64, 15, 256, 30, 2, 1),
    "tiny-t16-b1-256": (16, 2, 256, 16, 1, 3),
    "tiny-t5-b2-64": (16, 2, 64, 5, 2, 5),
    "tiny-t16-b2-128": (16, 2, 128, 16, 2, 3),
}
DEFAULT_CASES = "tiny-t5-b2-64,tiny-t16-b2-128,tiny-t16-b1-256,full-t16-b1,full-t30-b1"


def run_case(name: str, device: str, threads: int) -> dict[str, float]:
    """One case in this process: warm-up-free timing of each iteration."""
    import torch

    from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet
    from mosaicflow.restore.losses import CharbonnierLoss

    mid, blocks, size, frames, batch, iters = CASES[name]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = BasicVSRPlusPlusNet(mid, blocks).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = CharbonnierLoss()
    lq = torch.rand(batch, frames, 3, size, size, device=device)
    gt = torch.rand(batch, frames, 3, size, size, device=device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(lq), gt)
        loss.backward()
        opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    # skip the first iteration when there are several (allocator warm-up)
    steady = times[1:] if len(times) > 2 else times
    result = {
        "mid_channels": mid,
        "num_blocks": blocks,
        "size": size,
        "frames": frames,
        "batch": batch,
        "iterations": iters,
        "s_per_iter": round(sum(steady) / len(steady), 3),
        "it_per_s": round(len(steady) / sum(steady), 4),
        "first_iter_s": round(times[0], 3),
    }
    if device.startswith("cuda"):
        result["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["peak_rss_gb"] = round(peak / 1024, 2)
        result["peak_rss_growth_gb"] = round((peak - base_rss) / 1024, 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cases", default=DEFAULT_CASES, help=f"comma list of {sorted(CASES)}")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"))
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_case(args.one, args.device, args.threads)), flush=True)
        return 0
    results: dict[str, object] = {}
    for name in args.cases.split(","):
        if name not in CASES:
            parser.error(f"unknown case {name!r}; known: {sorted(CASES)}")
        cmd = [sys.executable, __file__, "--one", name, "--device", args.device]
        cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            results[name] = {"error": (proc.stderr or proc.stdout)[-500:]}
        else:
            results[name] = json.loads(lines[-1][len("RESULT ") :])
        print(name, json.dumps(results[name]), flush=True)
    import torch

    record(
        "restore_speed",
        {"device": args.device, "threads": args.threads, "torch": torch.__version__, **results},
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
