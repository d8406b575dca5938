"""Benchmark: region inference (decode + segment + track + RLE table) against bare tracking.

Usage (in a folder holding a demo run's ``results/``)::

    python bench/regions.py [--model results/models/region_seg/best.pt]
        [--video results/world/videos/world-test-00.mp4] [--imgsz 256] [--batch 16]

The reference is a bare ``model.track(frames, persist=True)`` loop over the same frames
(already decoded), same image size, batch and thread count, in the same process. Ours is the
whole ``infer_regions`` stage: decoding (overlapped with inference in a second thread), tracking,
RLE-encoding every mask at frame size and writing the parquet table. Records ``regions`` in
results/bench.json: frames/s of both and their ratio (goal >= 0.9).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import record, verdict

GOAL = 0.9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="results/models/region_seg/best.pt")
    parser.add_argument("--video", default="results/world/videos/world-test-00.mp4")
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    from mosaicflow.io import write_parquet
    from mosaicflow.video.decode import iter_frames
    from mosaicflow.yolo.adapter import open_model
    from mosaicflow.yolo.infer import infer_regions, track_kwargs
    from mosaicflow.yolo.scoring import batched

    tmp = Path(tempfile.mkdtemp(prefix="bench-regions-"))
    opened = dict(task="segment", config_dir=tmp / "yolo_config", threads=args.threads)
    device = open_model(args.model, device=args.device, **opened).device
    frames = list(iter_frames(args.video, None, fmt="bgr24"))
    count = len(frames)
    index = tmp / "index.parquet"
    numbers = list(range(count))
    table = pd.DataFrame({"frame": numbers, "time": [i / 12 for i in numbers], "kept": True})
    write_parquet(index, table)
    cfg = SimpleNamespace(
        imgsz=args.imgsz,
        conf=0.25,
        iou=0.7,
        tracker="bytetrack.yaml",
        infer_batch=args.batch,
        half=True,
    )
    kwargs = track_kwargs(cfg.imgsz, cfg.conf, cfg.iou, cfg.tracker, device, cfg.half)

    def bare() -> float:
        start = time.perf_counter()
        model = open_model(args.model, device=args.device, **opened).model
        for chunk in batched([image for _, image in frames], args.batch):
            model.track(chunk, **kwargs)
        return time.perf_counter() - start

    def ours() -> float:
        start = time.perf_counter()
        infer_regions(
            Path(args.model), Path(args.video), index, tmp / "regions.parquet",
            tmp / "summary.json", cfg=cfg, device=args.device, threads=args.threads,
            video_id="bench", config_dir=tmp / "yolo_config",
        )  # fmt: skip
        return time.perf_counter() - start

    bare(), ours()  # warm-up (first-call set-up, caches)
    times_bare, times_ours = [], []
    for _ in range(args.repeat):  # interleaved, so machine load hits both alike
        times_bare.append(bare())
        times_ours.append(ours())
    fps_bare, fps_ours = count / min(times_bare), count / min(times_ours)
    ratio = fps_ours / fps_bare
    record(
        "regions",
        {
            "frames": count,
            "imgsz": args.imgsz,
            "batch": args.batch,
            "threads": args.threads,
            "device": device,
            "fps_bare_track": round(fps_bare, 2),
            "fps_infer_regions": round(fps_ours, 2),
            "ratio": round(ratio, 3),
            "goal": GOAL,
            "verdict": verdict(ratio, GOAL),
            "note": "ours includes decoding, RLE of every mask and the parquet write",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
