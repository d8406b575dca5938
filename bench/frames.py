"""Benchmark: decode + near-duplicate dropping frames/s against ``ffmpeg -vf mpdecimate``.

Usage: ``python bench/frames.py [VIDEO ...] [--repeat 3] [--threads 0]``. Without videos a
640x360 H.264 clip (static stretches, motion, noise; 25 fps) is generated in a temporary folder.
Records ``frames`` in results/bench.json: our decode+dedup rate over ffmpeg's on the same file
(goal 0.8x, floor 0.5x), the full stage rate (``extract_frames``: + scdet + index) and a profile
(decode only / + plane access / + mpdecimate) so the closing note can say where the time goes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import record, verdict

from mosaicflow.video.cli import frames_config
from mosaicflow.video.decode import _decode, _open, iter_planes
from mosaicflow.video.frames import extract_frames
from mosaicflow.video.mpdecimate import Mpdecimate, MpdecimateParams

GOAL, FLOOR = 0.8, 0.5


def make_clip(path: Path, n: int = 1500, size: tuple[int, int] = (360, 640)) -> Path:
    """A 640x360 H.264 clip: static stretches (duplicates), motion, noise, cuts."""
    import av
    import cv2

    rng = np.random.default_rng(0)
    h, w = size
    base = None
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for i in range(n):
            if i % 250 == 0:
                small = rng.integers(0, 256, (h // 20, w // 20, 3), dtype=np.uint8)
                base = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
            assert base is not None
            phase = (i // 50) % 3
            if phase == 0:  # static: near-duplicates
                img = base
            elif phase == 1:  # moving box
                img = base.copy()
                x = (i * 7) % (w - 60)
                img[100:160, x : x + 60] = (240, 30, 30)
            else:  # weak noise
                img = np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_video(video: Path, repeat: int, threads: int) -> dict:
    ffmpeg = shutil.which("ffmpeg")
    params = MpdecimateParams.preset("default")
    n = sum(1 for _ in iter_planes(video, threads=threads))

    def run_ffmpeg() -> None:
        subprocess.run(
            [
                ffmpeg,
                "-nostdin",
                "-v",
                "error",
                "-threads",
                str(threads),
                "-i",
                str(video),
                "-an",
                "-vf",
                params.ffmpeg_filter(),
                "-f",
                "null",
                "-",
            ],
            check=True,
        )

    def decode_only() -> None:
        with _open(video) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            stream.codec_context.thread_count = threads
            for _ in _decode(container, stream, video, _Stats()):
                pass

    def planes_only() -> None:
        for _ in iter_planes(video, threads=threads):
            pass

    def decode_dedup() -> None:
        dec = Mpdecimate(params)
        for f in iter_planes(video, threads=threads):
            dec.push(f.planes, f.frame)

    cfg = frames_config({"decode_threads": threads})
    tmp = Path(tempfile.mkdtemp())

    def stage() -> None:
        extract_frames(cfg, video, tmp / "index.parquet", tmp / "probe.json")

    entry: dict = {"video": video.name, "frames": n}
    t_ours = best_of(decode_dedup, repeat)
    entry["ours_fps"] = round(n / t_ours, 1)
    entry["profile_s"] = {
        "decode": round(best_of(decode_only, repeat), 4),
        "decode+planes": round(best_of(planes_only, repeat), 4),
        "decode+planes+mpdecimate": round(t_ours, 4),
        "extract_frames (+scdet, index, probe)": round(best_of(stage, repeat), 4),
    }
    entry["stage_fps"] = round(n / entry["profile_s"]["extract_frames (+scdet, index, probe)"], 1)
    if ffmpeg:
        t_ff = best_of(run_ffmpeg, repeat)
        entry["ffmpeg_fps"] = round(n / t_ff, 1)
        entry["ratio"] = round(t_ff / t_ours, 3)
        entry["stage_ratio"] = round(entry["stage_fps"] / entry["ffmpeg_fps"], 3)
    shutil.rmtree(tmp, ignore_errors=True)
    return entry


class _Stats:
    errors = 0
    last_error = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path, help="videos (default: a generated clip)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads, both sides")
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        videos = args.videos or [make_clip(Path(tmp) / "bench_640x360.mp4")]
        entries = [bench_video(v, args.repeat, args.threads) for v in videos]
    ratios = [e["ratio"] for e in entries if "ratio" in e]
    result: dict = {"videos": entries, "goal": GOAL, "floor": FLOOR, "threads": args.threads}
    if ratios:
        ratio = float(np.min(ratios))
        result["ratio"] = ratio
        result["verdict"] = verdict(ratio, GOAL, FLOOR)
        stage_ratio = float(np.min([e["stage_ratio"] for e in entries]))
        result["stage_ratio"] = stage_ratio
        result["stage_verdict"] = verdict(stage_ratio, GOAL, FLOOR)
    else:
        result["verdict"] = "FAIL"
        result["note"] = "ffmpeg not installed: no reference (run `make test-deps`)"
    record("frames", result, out=args.out)
    print(f"frames: decode+dedup {result.get('ratio', 'n/a')}x ffmpeg -> {result['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
