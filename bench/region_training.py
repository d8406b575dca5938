"""Benchmark: seconds per training batch of the region models, through the rule's own code path.

Usage (in a folder holding a demo run's ``results/``)::

    python bench/region_training.py [--stage region_seg|watermark] [--epochs 3]
        [--fraction 0.25] [--threads 2]

What runs is what the training rule runs: the stage's spec from the demo config
(``spec_from_params``: the named optimizer, learning rate, batch, image size) through
``train_yolo`` (channels-last, thread pinning, the precision ``cpu_precision`` resolves to), on a
fraction of the demo's training set, for a few epochs; the first epoch (warm-up) is not timed.
A regression in the rule's path (an optimizer that is slow on this CPU, lost thread pinning)
shows up here as seconds per batch. For comparison, the same arguments through a bare
``YOLO(...).train(...)`` (ultralytics' float32 NCHW CPU path) and the rule's path in each
precision. Records ``region_training`` (or ``watermark_training``) in results/bench.json, with
the CPU's bfloat16 flags and PASS/FAIL for the goal (channels-last >= 1.1x the reference's
speed; with bfloat16 on an AMX CPU >= 1.3x).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import record, verdict

GOAL_BF16 = 1.3
GOAL_CHANNELS_LAST = 1.1
DATASETS = {"region_seg": "results/regions/dataset", "watermark": "results/world/watermarks"}


class BatchTimer:
    """Ultralytics callbacks that time every epoch and count its batches."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.batches: list[int] = []
        self._start = 0.0

    def start(self, trainer) -> None:
        self._start = time.perf_counter()

    def end(self, trainer) -> None:  # after the epoch's last optimizer step
        self.seconds.append(time.perf_counter() - self._start)
        self.batches.append(len(trainer.train_loader))

    def per_batch(self) -> float:
        timed = slice(1, None)  # the first epoch warms up
        return sum(self.seconds[timed]) / max(1, sum(self.batches[timed]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=sorted(DATASETS), default="region_seg")
    parser.add_argument("--dataset", default=None, help="default: the demo run's dataset")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.25, help="share of train images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from mosaicflow.config import validate_config
    from mosaicflow.yolo.adapter import load_yolo, prepare_ultralytics
    from mosaicflow.yolo.cpu_training import NATIVE_BF16_FLAG, cpu_flags, resolve_cpu_precision
    from mosaicflow.yolo.dataset import mirror_dataset, read_dataset
    from mosaicflow.yolo.fit import train_yolo
    from mosaicflow.yolo.models import MODELS, model_config, model_spec
    from mosaicflow.yolo.offline import pin_threads
    from mosaicflow.yolo.spec import plain

    tmp = Path(tempfile.mkdtemp(prefix="bench-region-training-"))
    prepare_ultralytics(tmp / "yolo_config", args.threads)

    config = {"profile": "demo"}
    validate_config(config)
    cfg = model_config(args.stage, config[MODELS[args.stage].section])
    spec = model_spec(args.stage, plain(cfg))
    overrides = {**spec.overrides, "fraction": args.fraction, "close_mosaic": 0}
    spec = dataclasses.replace(
        spec, epochs=args.epochs, min_steps=0, time_minutes=None, overrides=overrides
    )  # the epochs asked for, however small the fraction
    dataset = read_dataset(args.dataset or DATASETS[args.stage])

    def rule_path(precision: str) -> float:
        timer = BatchTimer()
        train_yolo(
            dataclasses.replace(spec, cpu_precision=precision), dataset, tmp / f"rule-{precision}",
            device="cpu", threads=args.threads, seed=args.seed,
            callbacks={"on_train_epoch_start": timer.start, "on_train_epoch_end": timer.end},
        )  # fmt: skip
        return timer.per_batch()

    def reference() -> float:
        timer = BatchTimer()
        model = load_yolo(spec.model, spec.task)
        pin_threads(model, args.threads)
        model.add_callback("on_train_epoch_start", timer.start)
        model.add_callback("on_train_epoch_end", timer.end)
        model.train(
            data=str(mirror_dataset(dataset, tmp / "data")), **spec.train_args(),
            workers=args.threads, device="cpu", amp=False, seed=args.seed,
            project=str(tmp / "runs"), name="reference", exist_ok=True, verbose=False,
        )  # fmt: skip
        return timer.per_batch()

    flags = cpu_flags()
    amx = NATIVE_BF16_FLAG in flags
    rule_precision = resolve_cpu_precision(spec.cpu_precision, "cpu")
    ref = reference()
    fp32 = rule_path("fp32")
    bf16 = rule_path("bf16")
    rule = bf16 if rule_precision == "bf16" else fp32
    speedup_cl, speedup_bf16 = ref / fp32, ref / bf16
    goal, achieved = (GOAL_BF16, speedup_bf16) if amx else (GOAL_CHANNELS_LAST, speedup_cl)
    record(
        "region_training" if args.stage == "region_seg" else f"{args.stage}_training",
        {
            "amx_bf16": amx,
            "avx512_bf16": "avx512_bf16" in flags,
            "optimizer": spec.optimizer,
            "lr0": spec.lr0,
            "rule_precision": rule_precision,
            "rule_s_per_batch": round(rule, 4),
            "reference_s_per_batch": round(ref, 4),
            "channels_last_fp32_s_per_batch": round(fp32, 4),
            "channels_last_bf16_s_per_batch": round(bf16, 4),
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
