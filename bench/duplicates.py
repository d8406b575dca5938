"""Benchmark: the duplicate search (``curate.duplicates.matched_counts``) with numpy and with
faiss's binary index, on random frame hashes of many videos.

Usage: ``python bench/duplicates.py [--frames 10000 30000] [--videos 500] [--threads 1]
[--repeat 3]``. Both backends must find the same matches (checked). Records ``duplicates`` in
results/bench.json: seconds per size and backend, ns per pair of frames per thread, and the
speed-up of faiss over numpy at the largest size (goal 3x, floor 1.5x; faiss missing: skipped).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import record, verdict

from mosaicflow.curate.duplicates import faiss_available, matched_counts

GOAL, FLOOR = 3.0, 1.5


def hashes_of(frames: int, videos: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random 64-bit frame hashes of ``videos`` videos, every 50th video a copy of another (3
    bits flipped per frame), so there are matches to count."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**63, frames, dtype=np.int64).view(np.uint64).copy()
    owners = np.sort(rng.integers(0, videos, frames))
    for copy in range(50, videos, 50):
        source = copy - 25
        rows, originals = np.flatnonzero(owners == copy), np.flatnonzero(owners == source)
        n = min(len(rows), len(originals))
        hashes[rows[:n]] = hashes[originals[:n]] ^ np.uint64(0b111)
    return hashes, owners


def best_of(run, repeat: int) -> tuple[float, pd.DataFrame]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10000, 30000])
    parser.add_argument("--videos", type=int, default=500)
    parser.add_argument("--max-distance", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="faiss threads (numpy: 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"))
    args = parser.parse_args(argv)
    backends = ["numpy", "faiss"] if faiss_available() else ["numpy"]
    sizes = []
    for frames in args.frames:
        hashes, owners = hashes_of(frames, args.videos)
        entry: dict = {"frames": frames}
        found = {}
        for backend in backends:
            run = functools.partial(matched_counts, hashes, owners, args.max_distance,
                                    backend=backend, threads=args.threads)  # fmt: skip
            seconds, found[backend] = best_of(run, args.repeat)
            threads = args.threads if backend == "faiss" else 1
            entry[backend] = {
                "s": round(seconds, 4),
                "ns_per_pair_and_thread": round(1e9 * seconds * threads / frames**2, 3),
            }
        if len(found) == 2:
            pd.testing.assert_frame_equal(found["numpy"], found["faiss"])
        entry["video_pairs_matched"] = len(found["numpy"])
        sizes.append(entry)
    result: dict = {"sizes": sizes, "videos": args.videos, "faiss_threads": args.threads,
                    "max_distance": args.max_distance, "goal": GOAL, "floor": FLOOR}  # fmt: skip
    if "faiss" in backends:
        last = sizes[-1]
        result["faiss_speedup"] = round(last["numpy"]["s"] / last["faiss"]["s"], 2)
        result["verdict"] = verdict(result["faiss_speedup"], GOAL, FLOOR)
    else:
        result["verdict"] = "SKIP (faiss not installed)"
    record("duplicates", result, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
