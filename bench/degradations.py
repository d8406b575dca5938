"""Degradation speed: the second-order pipeline against the first-order mix, per sample.

Run as ``python bench/degradations.py``. On one core (OpenCV single-threaded), times
``mosaicflow.mosaic.degrade.degrade`` on a real photo with `mosaic.degradations` at three
settings of ``second_order.p``: 0 (the first-order mix only: blur, noise, JPEG, a codec round
trip for some samples), the default, and 1 (every sample through both passes):

- ``image``: one 640x640 detection sample;
- ``clip``: a 16-frame 256x256 restoration clip.

Each figure is the mean over the same seeded samples at every setting. Goal: the default mix
costs at most 2x the first-order one per sample (floor 3x); it stays small next to a detection
sample's decode, tagging and PNG write, or a restoration step.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import record, verdict

from mosaicflow.config import build, validate_config
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.mosaic.degrade import degrade

GOAL_RATIO, FLOOR_RATIO = 2.0, 3.0
SAMPLES = 60


def mosaic_config(second_order_p: float | None) -> MosaicConfig:
    """The default `mosaic` section, with ``second_order.p`` set unless None."""
    section = {} if second_order_p is None else {"second_order": {"p": second_order_p}}
    config = {"mosaic": {"degradations": section}}
    validate_config(config)
    return build(MosaicConfig, config["mosaic"])


def inputs() -> dict[str, np.ndarray]:
    import skimage.data

    photo = cv2.resize(skimage.data.astronaut(), (640, 640), interpolation=cv2.INTER_AREA)
    clip = np.stack(
        [photo[100 + 4 * i : 356 + 4 * i, 120 + 6 * i : 376 + 6 * i] for i in range(16)]
    )
    return {"image": photo, "clip": clip}


def mean_seconds(frames: np.ndarray, cfg: MosaicConfig) -> float:
    """Mean seconds of one degrade() call over the seeded samples."""
    start = time.perf_counter()
    for seed in range(SAMPLES):
        degrade(frames, cfg.degradations, np.random.default_rng(seed))
    return (time.perf_counter() - start) / SAMPLES


def main() -> None:
    cv2.setNumThreads(1)
    off, default, always = mosaic_config(0.0), mosaic_config(None), mosaic_config(1.0)
    entry: dict[str, object] = {
        "samples": SAMPLES,
        "default_p": default.degradations.second_order.p,
    }
    worst = 0.0
    for name, frames in inputs().items():
        a, d, b = (mean_seconds(frames, cfg) for cfg in (off, default, always))
        worst = max(worst, d / a)
        entry[name] = {
            "shape": list(frames.shape),
            "first_order_ms": round(1000 * a, 2),
            "default_ms": round(1000 * d, 2),
            "second_order_ms": round(1000 * b, 2),
            "default_ratio": round(d / a, 2),
        }
    entry["worst_ratio"] = round(worst, 2)
    entry["verdict"] = verdict(worst, GOAL_RATIO, FLOOR_RATIO, higher_is_better=False)
    record("degradations", entry)


if __name__ == "__main__":
    main()
