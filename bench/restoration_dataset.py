"""Restoration clip dataset speed: cutting clips, and MosaicClipDataset samples per second.

Run as ``python bench/restoration_dataset.py``. Builds a synthetic source (640x360, 25 fps,
two textured regions moving over a panning photo, H.264), its frames index (the real frames
stage) and region table, then:

- ``build_video_clips`` with the ``full`` profile (out_size 256): clips per second, the speed as a
  multiple of real time (source seconds cut per wall second) and the share of time in decode /
  crop / analyse / encode;
- ``MosaicClipDataset`` (training mode, default `mosaic:` config with its degradations, size 256,
  T=30) through a DataLoader with 2 workers: samples per second.

Goals (one CPU core per worker): clip cutting >= 1x real time (floor 0.5x); >= 2 samples/s
(floor 1) with 2 workers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import av
import cv2
import numpy as np
import skimage.data
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import DEFAULT_OUT, record, verdict

from mosaicflow.config import build, validate_config
from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.config import RestorationDatasetConfig
from mosaicflow.datasets.clips.index import build_index
from mosaicflow.datasets.clips.torch_dataset import MosaicClipDataset
from mosaicflow.io import write_parquet
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.restore.sampling import make_loader
from mosaicflow.video.config import FramesConfig
from mosaicflow.video.frames import extract_frames
from mosaicflow.yolo.infer import encode_rle, rows_frame

GOAL_REALTIME, FLOOR_REALTIME = 1.0, 0.5
GOAL_SAMPLES, FLOOR_SAMPLES = 2.0, 1.0
WIDTH, HEIGHT, FPS = 640, 360, 25


def make_source(folder: Path, seconds: float) -> tuple[Path, Path, Path]:
    """Video, frames index and region table of a synthetic 640x360 source."""
    photo = cv2.resize(skimage.data.astronaut(), (2 * WIDTH, 2 * HEIGHT))
    n = int(seconds * FPS)
    video = folder / "source.mp4"
    rows = []
    with av.open(str(video), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for i in range(n):
            img = np.ascontiguousarray(photo[i // 4 : i // 4 + HEIGHT, i : i + WIDTH])
            moves = ((200 + 120 * np.sin(i / 40), 180, 60), (460 - 80 * np.sin(i / 30), 140, 35))
            for track, (cx, cy, r) in enumerate(moves):
                mask = np.zeros((HEIGHT, WIDTH), np.uint8)
                cv2.ellipse(mask, (int(cx), cy), (r, int(r * 1.3)), 0, 0, 360, 255, -1)
                img[mask > 0] = (img[mask > 0] // 2 + 60).astype(np.uint8)
                ys, xs = np.nonzero(mask)
                rows.append(
                    {
                        "frame": i,
                        "time": i / FPS,
                        "instance": track,
                        "track_id": track + 1,
                        "class_id": 0,
                        "score": 0.9,
                        "x0": float(xs.min()),
                        "y0": float(ys.min()),
                        "x1": float(xs.max() + 1),
                        "y1": float(ys.max() + 1),
                        "area": int((mask > 0).sum()),
                        "rle": encode_rle(mask > 0),
                    }
                )
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    config: dict = {"profile": "full"}
    validate_config(config)
    index = folder / "index.parquet"
    extract_frames(build(FramesConfig, config["frames"]), video, index, folder / "probe.json")
    regions = folder / "regions.parquet"
    write_parquet(regions, rows_frame(rows))
    return video, index, regions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="source length")
    parser.add_argument("--samples", type=int, default=16, help="dataset samples timed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    config: dict = {"profile": "full"}
    validate_config(config)
    cfg = build(RestorationDatasetConfig, config["restoration_dataset"])
    mosaic = build(MosaicConfig, config["mosaic"])
    with tempfile.TemporaryDirectory(prefix="bench-restoration-") as scratch:
        folder = Path(scratch)
        video, index, regions = make_source(folder, args.seconds)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        records = build_video_clips(
            video,
            index,
            regions,
            folder / "dataset",
            cfg,
            mosaic_cfg=mosaic,
            video_id="bench-00000000",
            seed=0,
            code="bench",
            timings=timings,
        )
        wall = time.perf_counter() - start
        kept = [r for r in records if r["status"] == "kept"]
        table = build_index(
            [folder / "dataset" / "videos" / "bench-00000000.json"],
            folder / "dataset" / "index.parquet",
            cfg.split,
            seed=0,
            roles={"bench-00000000": "train"},
        )
        data = MosaicClipDataset(
            table,
            folder / "dataset",
            num_frames=30,
            size=256,
            mosaic_cfg=mosaic,
            seed=0,
            train=True,
            split="train",
        )
        # the training loader (restoration stages): a draw per sample, two workers
        loader = make_loader(
            data, batch_size=1, seed=0, start=0, stop=args.samples + 1, num_workers=2, pin=False
        )
        iterator = iter(loader)
        next(iterator)  # worker start-up is not timed
        taken = 0
        t0 = time.perf_counter()
        for _ in iterator:
            taken += 1
        sample_wall = time.perf_counter() - t0
    total = sum(timings.values())
    realtime = args.seconds / wall
    samples_s = taken / sample_wall
    result = {
        "source": f"{WIDTH}x{HEIGHT} {FPS} fps {args.seconds:g} s, 2 tracks",
        "out_size": cfg.out_size,
        "clips": len(kept),
        "clips_per_s": round(len(kept) / wall, 3),
        "realtime": round(realtime, 3),
        "share": {k: round(v / max(total, 1e-9), 3) for k, v in sorted(timings.items())},
        "seconds": {k: round(v, 3) for k, v in sorted(timings.items())},
        "samples_per_s_2_workers": round(samples_s, 3),
        "sample_size": "T=30, 256x256",
        "verdict_realtime": verdict(realtime, GOAL_REALTIME, FLOOR_REALTIME),
        "verdict_samples": verdict(samples_s, GOAL_SAMPLES, FLOOR_SAMPLES),
    }
    record("restoration_dataset", result, out=args.out)
    return 0 if "FAIL" not in (result["verdict_realtime"], result["verdict_samples"]) else 1


if __name__ == "__main__":
    sys.exit(main())
