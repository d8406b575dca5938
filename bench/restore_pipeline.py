"""``mosaicflow restore`` throughput: each stage alone and the whole command, with its bound.

Run: ``python bench/restore_pipeline.py [--device cpu|cuda] [--profile demo|full]
[--sizes 720p,1080p] [--frames N] [--repeats R]``. Generates an H.264 video per size (a panning
two-scale texture with film grain, an AAC track, two FFmpeg-style pixelated boxes moving
independently) and measures, in frames/s:

- ``decode``; ``decode_encode`` (the default encoder); ``detector`` (YOLO, batch 8);
  ``restorer`` (``clip_batch`` 1 and 4); ``blend`` (crop, feather, blend and merge of every
  region, box-only and the full-frame reference);
- ``whole``: ``restore_video`` with the models, and the busiest stage (its bound). The YOLO
  forward runs on every batch, but the clips are cut from the generated truth masks (the
  detector's own masks are used only when a trained demo detector exists: see ``models``).

Models: ``demo`` uses the shipped restorer base (``resources/restorer-base``, 16 channels, 2
blocks, 64 px crops) and the demo run's trained detector when ``.test-work/demo`` has one, else
the nudenet base converted to a YOLOv8n-seg checkpoint (:mod:`mosaicflow.yolo.bases`; random
mask head); ``full`` builds a Lada-sized generator (64 channels, 15 blocks, 256 px; random
weights) and runs the detector at 640 px.

The A/B bars (CPU), measured in the same run, interleaved ``--repeats`` times:

- ``around_models``: seconds per frame of the work around the models (decode, crop, blend,
  merge, encode; instant models) at 720p, the old way (stages one after another, full-frame
  composite, single-thread x264: ``pipelined=False, compositing=full_frame, reproducible``)
  over the new defaults; goal >= 2;
- ``encode``: the default x264 encode over the single-thread one, same frames and preset;
  goal >= 1.7 on 2 cores;
- ``reproducible``: two ``--reproducible`` restores give the same bytes.

GPU bar (``--device cuda``, ``--profile full``, 1080p): >= 150 frames/s end to end with the GPU
busy >= 50 % of the time (``torch.cuda.utilization`` sampled every 0.2 s). Records
``restore_pipeline`` in ``results/bench.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import record, verdict

from mosaicflow.inference.blend import FeatherSettings, feather_weights
from mosaicflow.inference.canvas import CANVASES
from mosaicflow.inference.crop import CropSettings, crop_frame, plan_clip_crop, uncrop_frame
from mosaicflow.inference.pipeline import RestoreSettings, model_threads, restore_video
from mosaicflow.inference.protocols import Detections
from mosaicflow.inference.video_io import VideoSink, VideoSource, yuv_to_rgb
from mosaicflow.video.encoders import EncoderSettings, choose_encoder, cpu_cores

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
FPS = 30
BLOCK = 16  # mosaic block size (px)
DEMO_RUN = ROOT / ".test-work" / "demo" / "results" / "models"
RESTORER_BASE = ROOT / "resources" / "restorer-base" / "generator.pth"
GOAL_AROUND, GOAL_ENCODE, GOAL_GPU_FPS, GOAL_GPU_BUSY = 2.0, 1.7, 150.0, 0.5


# -- the video ------------------------------------------------------------------------------------
def texture(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """A smooth random RGB texture of ``cell``-pixel features."""
    small = rng.integers(0, 256, (height // cell + 2, width // cell + 2, 3), dtype=np.uint8)
    big = cv2.resize(small, (small.shape[1] * cell, small.shape[0] * cell), cv2.INTER_CUBIC)
    return big[:height, :width].astype(np.int16)


def region_boxes(i: int, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Two boxes: a large one sweeping across, a smaller one circling (block-aligned)."""
    big_w, big_h = width // 5 // BLOCK * BLOCK, height // 4 // BLOCK * BLOCK
    x = int((0.1 + 0.6 * (i % 120) / 120) * width) // BLOCK * BLOCK
    y = int(height * (0.2 + 0.1 * np.sin(i / 15))) // BLOCK * BLOCK
    small = width // 10 // BLOCK * BLOCK
    cx = int(width * (0.7 + 0.1 * np.cos(i / 20))) // BLOCK * BLOCK
    cy = int(height * (0.6 + 0.1 * np.sin(i / 20))) // BLOCK * BLOCK
    return [(x, y, x + big_w, y + big_h), (cx, cy, cx + small, cy + small)]


def make_video(path: Path, width: int, height: int, frames: int) -> list[list[np.ndarray]]:
    """Write the test video (H.264 CRF 20, AAC); returns each frame's truth masks."""
    rng = np.random.default_rng(0)
    coarse = texture(rng, height, width + 2 * frames, 24)
    fine = texture(rng, height, width + 2 * frames, 3)
    truth = []
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast"}
        sound = out.add_stream("aac", rate=48000, layout="stereo")
        samples = np.sin(np.arange(48000 * frames // FPS) * 0.02).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = np.stack([samples[start : start + 1024]] * 2)
            audio = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            audio.sample_rate, audio.pts, audio.time_base = 48000, start, Fraction(1, 48000)
            out.mux(sound.encode(audio))
        out.mux(sound.encode(None))
        for i in range(frames):
            x = 2 * i
            image = 0.75 * coarse[:, x : x + width] + 0.25 * fine[:, x : x + width]
            image += rng.normal(0, 3, image.shape)  # film grain
            rgb = np.clip(image, 0, 255).astype(np.uint8)
            masks = []
            for x0, y0, x1, y1 in region_boxes(i, width, height):
                roi = rgb[y0:y1, x0:x1]
                small = cv2.resize(roi, ((x1 - x0) // BLOCK, (y1 - y0) // BLOCK), cv2.INTER_AREA)
                rgb[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), cv2.INTER_NEAREST)
                mask = np.zeros((height, width), bool)
                mask[y0:y1, x0:x1] = True
                masks.append(mask)
            truth.append(masks)
            out.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(video.encode(None))
    return truth


# -- models ---------------------------------------------------------------------------------------
class TruthDetector:
    """The generated truth masks as detections, after running ``model`` (a YOLO detector) on the
    same batch so that its cost is paid (``None``: instant)."""

    def __init__(self, truth: list[list[np.ndarray]], model: Any = None) -> None:
        self.truth, self.model, self.position = truth, model, 0

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        if self.model is not None:
            self.model.detect(frames)
        out = []
        for _ in frames:
            out.append(Detections.from_masks(*self.truth[self.position]))
            self.position += 1
        return out


class CopyRestorer:
    """An instant restorer (returns the crops) of the given crop size."""

    def __init__(self, input_size: int) -> None:
        self.input_size = input_size

    def restore(self, clip: np.ndarray) -> np.ndarray:
        return clip.copy()


def detector_model(profile: str, device: str, work: Path) -> tuple[Any, str]:
    """The YOLO-seg detector of the profile and what it is."""
    from mosaicflow.inference.detector import YoloDetector

    imgsz = 256 if profile == "demo" else 640
    trained = DEMO_RUN / "detector" / "best.pt"
    if trained.is_file():
        path, what = trained, f"the demo run's trained detector ({trained})"
    else:
        path = DEMO_RUN / "bases" / "yolov8n-seg.pt"
        what = "nudenet's YOLOv8n converted to a YOLOv8n-seg checkpoint (random mask head)"
        if not path.is_file():
            from mosaicflow.yolo.bases import convert_base, nudenet_onnx, save_base
            from mosaicflow.yolo.offline import prepare_ultralytics

            prepare_ultralytics(work / "yolo_config", model_threads(True))  # before the import
            path = save_base(*convert_base(nudenet_onnx(), "segment"), work / "yolov8n-seg.pt")
    detector = YoloDetector(path, device=device, imgsz=imgsz, threads=model_threads(True))
    return detector, f"{what}, imgsz {imgsz}"


def restorer_model(profile: str, device: str, work: Path) -> tuple[Any, str]:
    """The restorer of the profile and what it is."""
    import torch

    from mosaicflow.inference.restorer import BasicVSRRestorer
    from mosaicflow.restore.basicvsrpp import BasicVSRPlusPlusNet

    cuda = device.startswith("cuda")
    precision = "fp16" if cuda else "fp32"
    if profile == "demo":
        card = {"weights": "generator.pth", "mid_channels": 16, "num_blocks": 2}
        card |= {"hr_skip": True, "input_size": 64}
        what = "the shipped restorer base (16 channels, 2 blocks, 64 px)"
        weights = RESTORER_BASE
    else:
        torch.manual_seed(0)
        weights = work / "generator.pth"
        torch.save(BasicVSRPlusPlusNet(64, 15).state_dict(), weights)
        card = {"weights": "generator.pth", "mid_channels": 64, "num_blocks": 15}
        card |= {"hr_skip": False, "input_size": 256}
        what = "a Lada-sized generator (64 channels, 15 blocks, 256 px, random weights)"
    (work / "model.json").write_text(json.dumps(card))
    restorer = BasicVSRRestorer(
        weights, card=work / "model.json", device=device, precision=precision, cuda_graphs=cuda
    )
    return restorer, f"{what}, {restorer.precision}"


# -- stages alone ---------------------------------------------------------------------------------
def decoded(path: Path) -> list[np.ndarray]:
    with VideoSource(path) as source:
        return list(source.frames())


def time_decode(path: Path) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in VideoSource(path).frames())
    return count / (time.perf_counter() - start)


def time_encode(path: Path, planes: list[np.ndarray], settings: EncoderSettings) -> float:
    encoder = choose_encoder(settings, gpu=settings.codec != "libx264")
    height, width = planes[0].shape[0] * 2 // 3, planes[0].shape[1]
    start = time.perf_counter()
    with VideoSink(path, width, height, Fraction(FPS), encoder=encoder) as sink:
        for yuv in planes:
            sink.write(yuv)
    return len(planes) / (time.perf_counter() - start)


def time_decode_encode(path: Path, out: Path, settings: EncoderSettings) -> float:
    encoder = choose_encoder(settings, gpu=settings.codec != "libx264")
    start = time.perf_counter()
    with (
        VideoSource(path) as source,
        VideoSink(out, source.width, source.height, source.rate, encoder=encoder) as sink,
    ):
        for yuv in source.frames():
            sink.write(yuv)
        count = sink.frames_written
    return count / (time.perf_counter() - start)


def time_detector(detector: Any, planes: list[np.ndarray], batch: int = 8) -> float:
    frames = [yuv_to_rgb(yuv) for yuv in planes]
    detector.detect(frames[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        detector.detect(frames[i : i + batch])
    return len(frames) / (time.perf_counter() - start)


def time_restorer(restorer: Any, clip_batch: int, length: int, device: str) -> float:
    size = restorer.input_size
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (clip_batch, length, size, size, 3), dtype=np.uint8)
    run = restorer.restore_batch if clip_batch > 1 else (lambda c: restorer.restore(c[0]))
    run(clips)  # warm-up (and the CUDA graph's capture on the second call)
    run(clips)
    start = time.perf_counter()
    run(clips)
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return clip_batch * length / (time.perf_counter() - start)


def time_blend(planes: list[np.ndarray], truth: list[list[np.ndarray]], size: int, how: str):
    """Frames/s of crop + feather + blend + merge of every region (one-frame clips)."""
    canvas_of = CANVASES[how]
    feather = FeatherSettings()
    start = time.perf_counter()
    for yuv, masks in zip(planes, truth, strict=True):
        canvas = canvas_of(yuv.copy())
        height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
        for mask in masks:
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            region = np.array([[cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]], float)
            crop = plan_clip_crop(region, (height, width), size, CropSettings())
            box = tuple(int(v) for v in crop.plan.boxes[0])
            x0, y0, x1, y1 = box
            rgb = canvas.rgb(box)
            restored = crop_frame(rgb, np.array([0, 0, x1 - x0, y1 - y0]), crop.plan)
            patch = uncrop_frame(restored, crop.plan)
            weights = feather_weights(mask[y0:y1, x0:x1], crop.border_px, feather)
            canvas.blend(patch, weights, box)
        canvas.planes()
    return len(planes) / (time.perf_counter() - start)


# -- whole runs -----------------------------------------------------------------------------------
class GpuSampler:
    """Samples the GPU's utilisation every 0.2 s while running (CUDA only)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> float | None:
        try:
            import torch

            return float(torch.cuda.utilization())
        except Exception:  # no pynvml: ask nvidia-smi
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=True,
                )
                return float(out.stdout.split()[0])
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                return None

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            value = self._read()
            if value is not None:
                self.samples.append(value)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def busy(self) -> float | None:
        return round(statistics.mean(self.samples) / 100, 3) if self.samples else None


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


OLD = {"pipelined": False, "compositing": "full_frame", "reproducible": True}
OLD |= {"clip_overlap_frames": 0}


def around_models(path: Path, work: Path, truth: list, size: int, repeats: int) -> dict:
    """Seconds per frame with instant models, old way and new defaults, interleaved."""
    times: dict[str, list[float]] = {"old": [], "new": []}
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(repeats):
        for name, extra in (("old", OLD), ("new", {})):
            settings = RestoreSettings(**extra)  # type: ignore[arg-type]
            started = time.process_time()
            result = restore_video(
                path, work / f"{name}.mp4", TruthDetector(truth), CopyRestorer(size), settings
            )
            times[name].append(result.seconds / result.frames)
            cpu[name].append((time.process_time() - started) / result.frames)
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    return {
        "old_ms_per_frame": round(1000 * old, 2),
        "new_ms_per_frame": round(1000 * new, 2),
        "runs_ms": {k: [round(1000 * v, 2) for v in vals] for k, vals in times.items()},
        "cpu_ms_per_frame": {k: round(1000 * statistics.median(v), 2) for k, v in cpu.items()},
        "ratio": round(old / new, 3),
        "verdict": verdict(old / new, GOAL_AROUND),
    }


def encode_ab(planes: list[np.ndarray], work: Path, repeats: int) -> dict:
    """Default x264 against single-thread x264 on the same frames, same preset, interleaved."""
    fps: dict[str, list[float]] = {"threads_1": [], "default": []}
    for _ in range(repeats):
        one = EncoderSettings(codec="libx264", reproducible=True)
        fps["threads_1"].append(time_encode(work / "one.mp4", planes, one))
        every = EncoderSettings(codec="libx264")
        fps["default"].append(time_encode(work / "every.mp4", planes, every))
    load = os.getloadavg()[0]  # other processes' demand shows here (2 cores)
    ratio = statistics.median(fps["default"]) / statistics.median(fps["threads_1"])
    return {
        "fps": {k: [round(v, 1) for v in vals] for k, vals in fps.items()},
        "threads": cpu_cores(),
        "load_average_after": round(load, 2),
        "ratio": round(ratio, 3),
        "verdict": verdict(ratio, GOAL_ENCODE),
    }


def stage_speeds(
    video: Path, work: Path, planes: list, truth: list, detector: Any, restorer: Any
) -> dict[str, float]:
    """Frames/s of each stage alone."""
    device = str(getattr(restorer, "device", "cpu"))
    cuda = device.startswith("cuda")
    length = 60 if cuda else 30
    stages = {
        "decode": time_decode(video),
        "decode_encode": time_decode_encode(
            video, work / "de.mp4", EncoderSettings(codec="auto" if cuda else "libx264")
        ),
        "detector": time_detector(detector, planes),
        "restorer": time_restorer(restorer, 1, length, device),
        "restorer_batch4": time_restorer(restorer, 4, length, device),
        "blend_box": time_blend(planes, truth, restorer.input_size, "box"),
        "blend_full_frame": time_blend(planes, truth, restorer.input_size, "full_frame"),
    }
    # every region is a clip: the video frames/s the restorer sustains
    stages["restorer_video_fps"] = stages["restorer"] / len(truth[0])
    return {k: round(v, 2) for k, v in stages.items()}


def whole_runs(
    video: Path, work: Path, truth: list, detector: Any, restorer: Any, cuda: bool
) -> dict[str, Any]:
    """The command with the models: the new defaults (and on the CPU the old way)."""
    import torch

    runs: dict[str, Any] = {}
    modes = {"whole": {"clip_batch": 4 if cuda else 1}}
    if not cuda:
        modes["whole_half_threads"] = {"clip_batch": 1}
        modes["whole_old"] = OLD
    for name, extra in modes.items():
        threads = model_threads(extra.get("pipelined", True))  # the CLI's default
        if name == "whole_half_threads":
            threads = max(1, threads // 2)
        torch.set_num_threads(threads)
        with GpuSampler() if cuda else _Null() as sampler:
            result = restore_video(
                video,
                work / f"{name}.mp4",
                TruthDetector(truth, detector),
                restorer,
                RestoreSettings(**extra),  # type: ignore[arg-type]
            )
        busiest = max(result.stage_seconds, key=result.stage_seconds.__getitem__)
        runs[name] = {
            "fps": result.fps,
            "torch_threads": torch.get_num_threads(),
            "stage_seconds": result.stage_seconds,
            "bound_stage": busiest,
            "encoder": result.encoder,
            "peak_buffered_frames": result.peak_buffered_frames,
            "gpu_busy": sampler.busy,
        }
    torch.set_num_threads(model_threads(True))
    return runs


def cpu_bars(
    video: Path, work: Path, planes: list, truth: list, size: int, repeats: int
) -> dict[str, Any]:
    """The CPU bars: around-the-models A/B, encoder A/B, reproducible bytes."""
    bars: dict[str, Any] = {
        "around_models": around_models(video, work, truth, size, repeats),
        "encode": encode_ab(planes, work, max(3, repeats)),
    }
    digests = []
    for run in range(2):
        out = work / f"repro{run}.mp4"
        settings = RestoreSettings(reproducible=True)
        restore_video(video, out, TruthDetector(truth), CopyRestorer(size), settings)
        digests.append(sha(out))
    bars["reproducible"] = "PASS" if digests[0] == digests[1] else "FAIL"
    return bars


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", choices=("demo", "full"), default=None)
    parser.add_argument("--sizes", default="720p,1080p")
    parser.add_argument("--frames", type=int, default=None, help="frames per video")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved A/B repeats")
    parser.add_argument(
        "--parts",
        default="stages,whole,ab",
        help="what to measure: stages (each alone), whole (the command), ab (the CPU bars)",
    )
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"))
    args = parser.parse_args()
    import torch

    cuda = args.device.startswith("cuda")
    profile = args.profile or ("full" if cuda else "demo")
    frames = args.frames or (300 if cuda else 96)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    fields = dict(ln.split(":", 1) for ln in cpu.splitlines() if ":" in ln)
    kind = [fields.get(k, "?").strip() for k in ("Model name", "CPU family", "Model")]
    entry: dict[str, Any] = {
        "device": args.device,
        "profile": profile,
        "cpu": f"{kind[0]} family {kind[1]} model {kind[2]}, {os.cpu_count()} cores",
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "frames": frames,
        "note": "other jobs may share the machine: ratios are interleaved A/B in one run",
    }
    with tempfile.TemporaryDirectory(prefix="bench-restore-") as tmp:
        work = Path(tmp)
        detector, detector_what = detector_model(profile, args.device, work)
        restorer, restorer_what = restorer_model(profile, args.device, work)
        entry["models"] = {"detector": detector_what, "restorer": restorer_what}
        parts = set(args.parts.split(","))
        for size_name in args.sizes.split(","):
            width, height = SIZES[size_name]
            video = work / f"{size_name}.mp4"
            truth = make_video(video, width, height, frames)
            planes = decoded(video)
            item: dict[str, Any] = {}
            if "stages" in parts:
                item["stages_fps"] = stage_speeds(video, work, planes, truth, detector, restorer)
            if "whole" in parts:
                item |= whole_runs(video, work, truth, detector, restorer, cuda)
                if cuda and size_name == "1080p" and profile == "full":
                    item["gpu_verdict"] = {
                        "fps": verdict(item["whole"]["fps"], GOAL_GPU_FPS),
                        "busy": verdict(item["whole"]["gpu_busy"] or 0.0, GOAL_GPU_BUSY),
                    }
            if "ab" in parts and size_name == "720p" and not cuda:
                item |= cpu_bars(video, work, planes, truth, restorer.input_size, args.repeats)
            entry[size_name] = item
            print(size_name, json.dumps(item), flush=True)
    record("restore_pipeline", entry, args.out)
    return 0


class _Null:
    busy = None

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
