"""Where the end-to-end restoration gains or loses: the true mosaic pixels of a finished run's
test videos split by what the restore run's detections did with them.

For each evaluated video it reads the original, the mosaicked input and its truth
(``results/detection_testset/``), the restored video and the run's detections
(``results/evaluate/<video>/``), and pools the squared errors of the input, the blur of the
input (Gaussian, ``--sigma``) and the restored frames over three parts of the true mosaic mask:
inside a detected mask, outside the masks of a frame with a detection, in a frame without any
detection. Prints the share and the PSNR of each part (docs/experiments/restoration.md).

Run: ``python bench/restore_error_split.py .test-work/demo/results`` (``--restored NAME`` scores
another restored file of the same folders, e.g. one written by a variant of ``mosaicflow
restore``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mosaicflow.formats.truth import read_truth
from mosaicflow.video.decode import iter_frames
from mosaicflow.yolo.infer import decode_rle

PARTS = ("inside a detected mask", "beside a detection", "frame without detection")


def detected_masks(masks_parquet: Path, height: int, width: int) -> dict[int, np.ndarray]:
    """Union of the detected masks of each frame that has any."""
    table = pd.read_parquet(masks_parquet)
    out: dict[int, np.ndarray] = {}
    for row in table[table["instance"] >= 0].itertuples():
        mask = decode_rle(row.rle, height, width)
        out[int(row.frame)] = out.get(int(row.frame), np.zeros((height, width), bool)) | mask
    return out


def split_video(results: Path, name: str, restored: str, sigma: float) -> dict[str, np.ndarray]:
    """Per part: ``[pixels, input SSE, blur SSE, restored SSE]`` over the RGB channels."""
    truth = {n: ids > 0 for n, ids in read_truth(results / "detection_testset" / f"{name}.mkv")}
    height, width = next(iter(truth.values())).shape
    original_path = next((results / "world").rglob(f"{name}.mp4"))
    original = dict(iter_frames(original_path, None, fmt="rgb24"))
    mosaic = dict(iter_frames(results / "detection_testset" / f"{name}.mp4", None, fmt="rgb24"))
    output = dict(iter_frames(results / "evaluate" / name / restored, None, fmt="rgb24"))
    detected = detected_masks(results / "evaluate" / name / "masks.parquet", height, width)
    sums = {part: np.zeros(4) for part in PARTS}
    for number, true_mask in truth.items():
        if not true_mask.any():
            continue
        found = detected.get(number)
        if found is None:
            parts = {PARTS[2]: true_mask}
        else:
            parts = {PARTS[0]: true_mask & found, PARTS[1]: true_mask & ~found}
        truth_rgb = original[number].astype(np.float64)
        blur = cv2.GaussianBlur(mosaic[number], (0, 0), sigma).astype(np.float64)
        images = (mosaic[number].astype(np.float64), blur, output[number].astype(np.float64))
        for part, mask in parts.items():
            errors = [float(((image - truth_rgb)[mask] ** 2).sum()) for image in images]
            sums[part] += [mask.sum(), *errors]
    return sums


def psnr(sse: float, pixels: float) -> float:
    """PSNR (dB) of a pooled sum of squared errors over ``pixels`` RGB pixels."""
    return 10 * math.log10(255.0**2 / (sse / (3 * pixels))) if pixels and sse else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a finished run's results/ folder")
    parser.add_argument("--videos", nargs="+", default=["world-test-00", "world-test-01"])
    parser.add_argument("--restored", default="restored.mp4", help="restored file name")
    parser.add_argument("--sigma", type=float, default=1.0, help="blur sigma (pixels)")
    args = parser.parse_args()
    total = {part: np.zeros(4) for part in PARTS}
    for name in args.videos:
        for part, sums in split_video(args.results, name, args.restored, args.sigma).items():
            total[part] += sums
    pixels = sum(sums[0] for sums in total.values())
    print("| true mosaic pixels | share | input | blur | restored |\n|---|---|---|---|---|")
    for part, (count, *sse) in total.items():
        cells = " | ".join(f"{psnr(e, count):.2f}" for e in sse)
        print(f"| {part} | {100 * count / pixels:.1f} % | {cells} |")
    everything = sum(total.values())
    cells = " | ".join(f"{psnr(e, everything[0]):.3f}" for e in everything[1:])
    print(f"| all | 100 % | {cells} |")


if __name__ == "__main__":
    main()
