"""Benchmark: CPU training speed of the region segmenter, ours against ultralytics' own.

Usage (in a folder holding a demo run's ``results/``)::

    python bench/region_training.py [--dataset results/regions/dataset] [--imgsz 256]
        [--batch 16] [--epochs 3] [--fraction 0.25] [--threads 2]

The reference is ``YOLO("yolo11n-seg.yaml").train(...)`` as ultralytics runs it on a CPU
(float32, NCHW). Ours is the same call with the callback ``train_yolo`` installs on a CPU
(``mosaicflow.regions.cpu_training``): channels-last, and channels-last + bfloat16 autocast.
Same data, arguments, seed and threads, in the same process; the first epoch (warm-up) is not
timed. Records ``region_training`` in results/bench.json: seconds per optimizer step of each,
the ratios, whether the CPU has AMX, and PASS/FAIL for the goal (>= 1.3x the reference's steps
per second with bf16 on an AMX CPU, >= 1.1x with channels-last alone).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import record, verdict

GOAL_BF16 = 1.3
GOAL_CHANNELS_LAST = 1.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="results/regions/dataset")
    parser.add_argument("--model", default="yolo11n-seg.yaml")
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.25, help="share of train images")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from mosaicflow.regions.cpu_training import (
        NATIVE_BF16_FLAG,
        CpuTrainingSpeedups,
        cpu_flags,
    )
    from mosaicflow.regions.offline import pin_threads, prepare_ultralytics
    from mosaicflow.regions.train import mirror_dataset, read_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench-region-training-"))
    prepare_ultralytics(tmp / "yolo_config", args.threads)
    from ultralytics import YOLO

    data_yaml = mirror_dataset(read_dataset(args.dataset), tmp / "data")

    def seconds_per_step(mode: str) -> float:
        times: list[float] = []
        steps: list[int] = []
        model = YOLO(args.model, task="segment")
        pin_threads(model, args.threads)
        if mode != "reference":
            speedups = CpuTrainingSpeedups(bf16=mode == "bf16")
            model.add_callback("on_pretrain_routine_end", speedups)

        started: list[float] = []

        def on_epoch_start(trainer) -> None:
            started.append(time.perf_counter())

        def on_epoch_end(trainer) -> None:  # after the epoch's last optimizer step
            times.append(time.perf_counter() - started[-1])
            steps.append(len(trainer.train_loader))

        model.add_callback("on_train_epoch_start", on_epoch_start)
        model.add_callback("on_train_epoch_end", on_epoch_end)
        model.train(
            data=str(data_yaml), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
            nbs=args.batch, workers=args.threads, device="cpu", amp=False, val=False,
            plots=False, seed=0, deterministic=True, fraction=args.fraction, close_mosaic=0,
            project=str(tmp / "runs"), name=mode, exist_ok=True, verbose=False,
        )  # fmt: skip
        timed = slice(1, None)  # the first epoch warms up
        return sum(times[timed]) / sum(steps[timed])

    amx = NATIVE_BF16_FLAG in cpu_flags()
    ref = seconds_per_step("reference")
    channels_last = seconds_per_step("channels_last")
    bf16 = seconds_per_step("bf16")
    speedup_cl, speedup_bf16 = ref / channels_last, ref / bf16
    goal, achieved = (GOAL_BF16, speedup_bf16) if amx else (GOAL_CHANNELS_LAST, speedup_cl)
    record(
        "region_training",
        {
            "amx_bf16": amx,
            "reference_s_per_step": round(ref, 4),
            "channels_last_s_per_step": round(channels_last, 4),
            "bf16_s_per_step": round(bf16, 4),
            "speedup_channels_last": round(speedup_cl, 3),
            "speedup_bf16": round(speedup_bf16, 3),
            "goal": goal,
            "verdict": verdict(achieved, goal),
            "settings": vars(args),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
