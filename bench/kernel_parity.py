"""Do the demo's CPU trainings give byte-identical models on every CPU kind (issue 58)?

A short, deterministic training run of each kind of model the demo trains on a CPU, printing
the sha256 of the weights it ends with and of a forward output on a fixed input:

- ``yolo``: the region segmenter as the project trains it: ``mosaicflow.yolo.fit.train_yolo``
  (ultralytics' trainer, demo ``regions`` settings: AdamW 0.002, copy-paste 0.5, mosaic and
  resampling augmentation, channels-last, 2 threads, 2 dataloader workers) from the YOLOv8n-seg
  base converted from nudenet's detector (``mosaicflow.yolo.bases``), on a synthetic dataset;
- ``quality``: the source-quality classifier: the loop of ``mosaicflow.quality.train`` (demo
  ``quality`` config, the project's degradations: x264, blur, area/bicubic resizing, mosaic)
  on synthetic windows;
- ``restore``: the demo-sized BasicVSR++ (``Stage1`` from the restorer base, then
  ``Stage2Model``: generator, spectral-norm U-Net discriminator, EMA) on synthetic clips.

Inputs are made with integer operations only, so every CPU kind starts from the same bytes; what
the project computes from them (augmentation, degradations, training) is what is compared.

    python bench/kernel_parity.py run [--setting held] [--parts yolo,quality,restore]
        [--steps N] [--size parity|demo] [--trace FILE] [--save DIR] [--json FILE]
    python bench/kernel_parity.py compare A.json B.json ...   # table; first differing trace entry
    python bench/kernel_parity.py speed [--rounds 3]          # held vs default, interleaved

``--setting held`` holds torch, oneDNN, MKL, numpy and OpenCV to their AVX2 kernels
(:data:`HELD_ENV`) before anything is imported. ``--trace`` hashes, during the first training
step of each part, every module's forward output (in call order) and every parameter's gradient
(in the order backward produces them). ``speed`` times training steps at the demo's sizes in
alternating subprocesses (default, held, default, ...) and records the ratios with benchlib.
Run it alone: it is CPU-bound on purpose.
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
import time
from pathlib import Path
from typing import Any

#: The held setting: every library to its AVX2 kernels (on a CPU with AVX-512; a no-op on AVX2).
HELD_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels (ATen dispatch)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions, channels-last, pooling, ...)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # MKL (sgemm: linear layers, some convolutions)
    "MKL_CBWR": "AVX2",  # MKL conditional numerical reproducibility on the AVX2 branch
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy 2.4's AVX-512 targets
    "OPENCV_CPU_DISABLE": "AVX512-SKX",  # OpenCV 5's one AVX-512 dispatch target
    "OPENCV_IPP": "avx2",  # Intel IPP inside OpenCV (resize...): its own dispatch, k0 -> l9
}
#: The settings ``run --setting`` knows: extra environment on top of :data:`COMMON_ENV`.
#: ``held-avx`` also keeps oneDNN off its AVX2 brgemm kernels, whose 2-thread work split
#: follows the L2 size; ``held-compat`` puts MKL on its COMPATIBLE branch (see
#: docs/experiments/cpu-kernels.md).
SETTINGS = {
    "default": {},
    "held": HELD_ENV,
    "held-avx": {**HELD_ENV, "ONEDNN_MAX_CPU_ISA": "AVX"},
    # MKL's SSE2 branch without RCPPS/RSQRTPS: the SGEMM Intel and AMD agree on (not VML)
    "held-compat": {**HELD_ENV, "MKL_CBWR": "COMPATIBLE"},
}
#: Set for every setting: OpenMP threads sleep instead of spinning (shared cores).
COMMON_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
PARTS = ("yolo", "quality", "restore")
THREADS = 2
SEED = 20261121
REPO = Path(__file__).resolve().parents[1]

#: Per size: (yolo imgsz, yolo batch, yolo images, quality batch, restore frames/size/batch).
SIZES = {
    # small enough for an emulated CPU (qemu-user, 10-30x slower)
    "parity": {"yolo_imgsz": 96, "yolo_batch": 4, "quality_batch": 32, "quality_crop": 96},
    # the demo's own sizes (regions: 256 px batch 16; quality: batch 32; restorer: its stages)
    "demo": {"yolo_imgsz": 256, "yolo_batch": 16, "quality_batch": 32, "quality_crop": 96},
}


# -- hashing -------------------------------------------------------------------------------
def tensor_bytes(t: Any) -> bytes:
    return t.detach().cpu().contiguous().numpy().tobytes()


def sha_tensors(named: Any) -> str:
    """sha256 of (name, dtype, shape, bytes) of tensors in order."""
    h = hashlib.sha256()
    for name, t in named:
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(tensor_bytes(t))
    return h.hexdigest()


def sha_any(value: Any) -> str:
    """sha256 of every tensor in a (nested) output."""
    import torch

    flat: list[Any] = []

    def walk(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            flat.append(v)
        elif isinstance(v, dict):
            for k in v:
                walk(v[k])
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk(value)
    return sha_tensors((str(i), t) for i, t in enumerate(flat))


def sha_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Tracer:
    """Hashes of what one training step computes, while started: with ``ops``, every aten
    operation (a ``TorchDispatchMode``: its name, the hash of its tensor inputs and of its
    output), else every module's forward output (in call order) and every parameter's gradient
    (in the order backward finishes them)."""

    def __init__(self, model: Any, prefix: str, ops: bool = False) -> None:
        self.entries: list[list[str]] = []
        self.active = False
        self.ops = ops
        self.busy = False
        self.mode: Any = None
        self.handles = []
        if ops:
            return
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_hook(self._forward(f"{prefix}.{name}")))
        for name, param in model.named_parameters():
            if param.requires_grad:
                self.handles.append(
                    param.register_post_accumulate_grad_hook(self._grad(f"{prefix}.{name}"))
                )

    def _forward(self, name: str) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            if self.active:
                kind = type(module).__name__
                self.entries.append(["fwd", name, kind, sha_any(output)[:16]])

        return hook

    def _grad(self, name: str) -> Any:
        def hook(param: Any) -> None:
            if self.active and param.grad is not None:
                self.entries.append(["grad", name, "", sha_any(param.grad)[:16]])

        return hook

    def start(self) -> None:
        self.active = True
        if self.ops and self.mode is None:
            self.mode = op_trace_mode(self)
            self.mode.__enter__()

    def stop(self) -> None:
        self.active = False
        if self.mode is not None:
            self.mode.__exit__(None, None, None)
            self.mode = None

    def note(self, what: str, value: Any) -> None:
        if self.active:
            self.busy = True
            try:
                self.entries.append(["note", what, "", sha_any(value)[:16]])
            finally:
                self.busy = False

    def remove(self) -> None:
        self.stop()
        for handle in self.handles:
            handle.remove()


#: In-place ops whose result does not depend on the destination's old content.
OVERWRITING = ("copy_", "fill_", "zero_", "uniform_", "normal_", "bernoulli_", "set_")


def exact_vml_mode() -> Any:
    """A dispatch mode that computes the ops torch sends to MKL's vector math library (VML)
    and that were seen to differ between CPU kinds (sqrt, atan, pow(x, 0.5)) from operations
    every x86 kind rounds alike instead: ``1 / rsqrt(x)`` (ATen's rsqrt is an IEEE division of
    an IEEE square root), ``atan2(x, 1)`` (Sleef, ATen's own). An experiment, not a fix: it
    changes the numbers (deterministically)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten

    def sqrt(x: Any) -> Any:
        return torch.reciprocal(torch.rsqrt(x))

    class ExactVml(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is aten.sqrt.default:
                return sqrt(args[0])
            if func is aten.sqrt_.default:
                return args[0].copy_(sqrt(args[0]))
            if func is aten.atan.default:
                return torch.atan2(args[0], torch.ones_like(args[0]))
            if func is aten.pow.Tensor_Scalar and float(args[1]) == 0.5:
                return sqrt(args[0])
            return func(*args, **kwargs)

    return ExactVml()


def signature(args: Any) -> str:
    """Shapes (and non-contiguous strides) of the tensor arguments, other arguments short."""
    import torch

    parts = []
    for a in args:
        if isinstance(a, torch.Tensor):
            cl = "" if a.is_contiguous() else f"s{tuple(a.stride())}"
            parts.append(f"{tuple(a.shape)}{cl}")
        elif isinstance(a, list | tuple) and not any(isinstance(x, torch.Tensor) for x in a):
            parts.append(str(list(a)))
        elif not isinstance(a, list | tuple):
            parts.append(repr(a)[:20])
    return " ".join(parts)


def op_trace_mode(tracer: Tracer) -> Any:
    """A dispatch mode that appends ``[op, name, sha(inputs), sha(output)]`` to the tracer."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class OpTrace(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = str(func)
            if tracer.busy:
                return func(*args, **kwargs)
            # a destination's old content and an empty tensor's bytes are not results
            read = args[1:] if name.split(".")[1] in OVERWRITING else args
            inputs = sha_any([read, kwargs])[:12]
            out = func(*args, **kwargs)
            if "empty" in name:
                digest = "uninitialised"
            elif isinstance(out, tuple | list):  # one short hash per output
                digest = "/".join(sha_any(o)[:6] for o in out)
            else:
                digest = sha_any(out)[:16]
            tracer.entries.append(["op", name, inputs, digest, signature(args)])
            return out

    return OpTrace()


def params_of(model: Any) -> Any:
    return [p for p in model.parameters()]


def save_state(save: Path | None, name: str, state: dict[str, Any]) -> None:
    if save is None:
        return
    import torch

    save.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, save / f"{name}.pt")


def median_step(times: list[float]) -> float | None:
    """Median seconds of the steps after the first (warm-up), None without two steps."""
    return round(statistics.median(times[1:]), 4) if len(times) > 1 else None


# -- synthetic inputs (integer operations only) ---------------------------------------------
def blocky_image(rng: Any, height: int, width: int, block: int) -> Any:
    """uint8 RGB: a random coarse image enlarged by repetition plus fine integer noise."""
    import numpy as np

    coarse = rng.integers(0, 256, (height // block + 1, width // block + 1, 3), dtype=np.int16)
    image = np.repeat(np.repeat(coarse, block, 0), block, 1)[:height, :width]
    noise = rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def yolo_dataset(root: Path, imgsz: int, count: int, seed: int) -> str:
    """Images with 1-2 pixelated ellipses each (their polygons as segment labels), PNG; returns
    the sha256 of the pixels and labels (not of the PNG bytes: zlib may differ by CPU)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    h = hashlib.sha256()
    for split, n in (("train", count), ("val", 2)):
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "labels").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = blocky_image(rng, imgsz, imgsz, int(rng.integers(8, 24)))
            lines = []
            for _ in range(int(rng.integers(1, 3))):
                a, b = (int(v) for v in rng.integers(imgsz // 10, imgsz // 4, 2))
                cx, cy = (int(v) for v in rng.integers(imgsz // 4, 3 * imgsz // 4, 2))
                angle = int(rng.integers(0, 180))
                poly = cv2.ellipse2Poly((cx, cy), (a, b), angle, 0, 360, 20)
                mask = np.zeros((imgsz, imgsz), np.uint8)
                cv2.fillPoly(mask, [poly], 1)
                blk = int(rng.integers(6, 12))
                small = image[::blk, ::blk]
                big = np.repeat(np.repeat(small, blk, 0), blk, 1)[:imgsz, :imgsz]
                image = np.where(mask[..., None] > 0, big, image)
                xy = np.clip(poly, 0, imgsz - 1) / imgsz
                lines.append("0 " + " ".join(f"{x:.5f} {y:.5f}" for x, y in xy))
            cv2.imwrite(str(root / split / "images" / f"{i:03d}.png"), image)
            (root / split / "labels" / f"{i:03d}.txt").write_text("\n".join(lines) + "\n")
            h.update(image.tobytes() + "\n".join(lines).encode())
    (root / "data.yaml").write_text("path: .\ntrain: train/images\nval: val/images\nnames: [r]\n")
    return h.hexdigest()


def demo_config() -> dict[str, Any]:
    """config/config.yaml validated (schema defaults, demo profile, named paths resolved)."""
    import yaml

    from mosaicflow.config import validate_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_config(config)
    return config


# -- (a) YOLO region segmenter ----------------------------------------------------------------
def part_yolo(steps: int, size: str, trace: Any, save: Path | None, work: Path) -> dict:
    import dataclasses

    from mosaicflow.yolo.adapter import prepare_ultralytics

    prepare_ultralytics(work / "yolo_config", THREADS)
    import torch

    from mosaicflow.yolo.bases import convert_base, nudenet_onnx, save_base
    from mosaicflow.yolo.cpu_training import resolve_cpu_precision
    from mosaicflow.yolo.dataset import read_dataset
    from mosaicflow.yolo.fit import train_yolo
    from mosaicflow.yolo.models import model_spec, train_params

    s = SIZES[size]
    imgsz, batch = s["yolo_imgsz"], s["yolo_batch"]
    data = work / "data"
    data_sha = yolo_dataset(data, imgsz, batch * steps, SEED)
    model, report = convert_base(nudenet_onnx(), "segment")
    base_sha = sha_tensors(model.state_dict().items())
    base = save_base(model, report, work / "base.pt")
    params = train_params("region_seg", demo_config())
    # one epoch (min_steps 0: the epoch alone), mosaic on
    params.update(imgsz=imgsz, batch=batch, epochs=1, min_steps=0, close_mosaic=0)
    spec = model_spec("region_seg", params)
    spec = dataclasses.replace(spec, pretrained=str(base))  # the project's start: the base

    out: dict[str, Any] = {
        "spec": {
            "imgsz": imgsz,
            "batch": batch,
            "optimizer": spec.optimizer,
            "lr0": spec.lr0,
            "steps": steps,
            "workers": THREADS,
        },
        "cpu_precision": resolve_cpu_precision(spec.cpu_precision, "cpu"),
        "data_sha": data_sha[:16],
        "base_sha": base_sha[:16],
    }
    state: dict[str, Any] = {
        "tracer": None,
        "step": 0,
        "times": [],
        "t0": None,
        "inputs": [],
        "losses": [],
        "ends": [],
    }

    def on_train_start(trainer: Any) -> None:
        net = trainer.model
        net.model[0].register_forward_pre_hook(
            lambda m, a: state["inputs"].append(sha_any(a[0])[:16]) if m.training else None
        )
        if trace.mode:
            state["tracer"] = Tracer(net, "yolo", ops=trace.mode == "ops")

    def on_batch_start(trainer: Any) -> None:
        if state["tracer"] is not None and state["step"] < trace.steps:
            state["tracer"].start()
        state["t0"] = time.perf_counter()

    def on_batch_end(trainer: Any) -> None:
        state["times"].append(time.perf_counter() - state["t0"])
        state["ends"].append(time.perf_counter())
        state["losses"].append([round(float(v), 6) for v in trainer.loss_items.values()])
        if state["tracer"] is not None:
            state["tracer"].note(f"params after step {state['step']}", params_of(trainer.model))
            state["tracer"].stop()
        state["step"] += 1

    def on_train_end(trainer: Any) -> None:
        raw = {k: v for k, v in trainer.model.state_dict().items()}
        ema = trainer.ema.ema
        out["weights_sha"] = sha_tensors(raw.items())
        out["ema_sha"] = sha_tensors(ema.state_dict().items())
        g = torch.Generator().manual_seed(SEED)
        x = torch.rand(1, 3, imgsz, imgsz, generator=g)
        ema.eval()
        with torch.no_grad():
            out["forward_sha"] = sha_any(ema.float()(x))
        save_state(save, "yolo", raw)

    callbacks = {
        "on_train_start": on_train_start,
        "on_train_batch_start": on_batch_start,
        "on_train_batch_end": on_batch_end,
        "on_train_end": on_train_end,
    }
    result = train_yolo(
        spec,
        read_dataset(data),
        work / "yolo_work",
        device="cpu",
        threads=THREADS,
        seed=SEED,
        callbacks=callbacks,
    )
    ckpt = torch.load(result.weights, map_location="cpu", weights_only=False)
    out["best_pt_fp16_sha"] = sha_tensors((ckpt["ema"] or ckpt["model"]).state_dict().items())
    out["steps_run"] = state["step"]
    out["input_shas"] = state["inputs"]
    out["losses"] = state["losses"]
    out["step_s"] = median_step(state["times"])
    # batch end to batch end: the step plus any wait for the dataloader's augmentation
    gaps = [b - a for a, b in zip(state["ends"], state["ends"][1:], strict=False)]
    out["step_wall_s"] = round(statistics.median(gaps), 4) if gaps else None
    out["step_times"] = [round(t, 3) for t in state["times"]]
    if state["tracer"] is not None:
        out["trace"] = state["tracer"].entries
    return out


# -- (b) source-quality classifier ------------------------------------------------------------
def part_quality(steps: int, size: str, trace: Any, save: Path | None, work: Path) -> dict:
    """The loop of ``mosaicflow.quality.train.train_classifier``, step for step, on synthetic
    windows instead of video frames."""
    import dataclasses

    import numpy as np
    import torch
    from torch import nn

    from mosaicflow.config import build
    from mosaicflow.quality.classes import CLASSES, degrade_window, window_margin
    from mosaicflow.quality.config import QualityConfig
    from mosaicflow.quality.model import QualityNet, to_tensor
    from mosaicflow.quality.train import WIDTH

    s = SIZES[size]
    cfg = build(QualityConfig, demo_config()["quality"])
    cfg = dataclasses.replace(cfg, batch=s["quality_batch"], crop=s["quality_crop"])
    margin = window_margin(cfg)
    side = cfg.crop + 2 * margin
    data_rng = np.random.default_rng(SEED + 1)
    windows = np.stack(
        [blocky_image(data_rng, side, side, int(data_rng.integers(2, 12))) for _ in range(48)]
    )
    out: dict[str, Any] = {
        "spec": {
            "batch": cfg.batch,
            "crop": cfg.crop,
            "lr": cfg.lr,
            "iterations_schedule": cfg.iterations,
            "steps": steps,
        },
        "data_sha": sha_bytes(windows.tobytes())[:16],
    }
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    net = QualityNet(len(CLASSES), WIDTH).to(memory_format=torch.channels_last)
    out["init_sha"] = sha_tensors(net.state_dict().items())[:16]
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, cfg.iterations))
    loss_fn = nn.CrossEntropyLoss()
    tracer = Tracer(net, "quality", ops=trace.mode == "ops") if trace.mode else None
    net.train()
    inputs, losses, times = [], [], []
    for step in range(steps):
        t0 = time.perf_counter()
        if tracer is not None and step < trace.steps:
            tracer.start()
        labels = rng.integers(0, len(CLASSES), cfg.batch)
        picks = rng.integers(0, len(windows), cfg.batch)
        crops = [
            degrade_window(windows[i], int(y), cfg, rng)[
                margin : margin + cfg.crop, margin : margin + cfg.crop
            ]
            for i, y in zip(picks, labels, strict=True)
        ]
        batch = to_tensor(crops).contiguous(memory_format=torch.channels_last)
        inputs.append(sha_any(batch)[:16])
        loss = loss_fn(net(batch), torch.from_numpy(labels))
        if tracer is not None:
            tracer.note("loss", loss)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if tracer is not None:
            tracer.note(f"params after step {step}", params_of(net))
            tracer.stop()
        losses.append(round(float(loss.detach()), 6))
        times.append(time.perf_counter() - t0)
    if tracer is not None:
        tracer.remove()
        out["trace"] = tracer.entries
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    out["weights_sha"] = sha_tensors(state.items())
    net.eval()
    g = torch.Generator().manual_seed(SEED)
    x = (torch.rand(4, 3, cfg.crop, cfg.crop, generator=g) * 255).floor()
    with torch.no_grad():
        out["forward_sha"] = sha_any(net(x.contiguous(memory_format=torch.channels_last)))
    out.update(
        input_shas=inputs,
        losses=losses,
        step_s=median_step(times),
        step_times=[round(t, 3) for t in times],
    )
    save_state(save, "quality", state)
    return out


# -- the quality classifier's degradations, one by one (a diagnostic part) ------------------------
def part_degrade(steps: int, size: str, trace: Any, save: Path | None, work: Path) -> dict:
    """Hashes of each degradation of ``mosaicflow.quality.classes`` and of the OpenCV/x264
    calls under it, on the same synthetic windows as ``quality``."""
    from fractions import Fraction

    import av
    import cv2
    import numpy as np

    from mosaicflow.config import build
    from mosaicflow.mosaic.degrade import codec_roundtrip
    from mosaicflow.quality.classes import CLASSES, degrade_window, window_margin
    from mosaicflow.quality.config import QualityConfig
    from mosaicflow.video.x264 import reproducible_x264_options

    cfg = build(QualityConfig, demo_config()["quality"])
    side = cfg.crop + 2 * window_margin(cfg)
    rng = np.random.default_rng(SEED + 1)
    windows = [blocky_image(rng, side, side, int(rng.integers(2, 12))) for _ in range(8)]
    out: dict[str, Any] = {}
    for label in range(1, len(CLASSES)):
        h = hashlib.sha256()
        for k, w in enumerate(windows):
            h.update(degrade_window(w, label, cfg, np.random.default_rng([SEED, label, k])))
        out[f"class_{CLASSES[label]}"] = h.hexdigest()[:16]
    calls = {
        "GaussianBlur_s2.3": lambda w: cv2.GaussianBlur(w, (0, 0), 2.3),
        "resize_area_0.3": lambda w: cv2.resize(w, (38, 38), interpolation=cv2.INTER_AREA),
        "resize_cubic_up": lambda w: cv2.resize(
            cv2.resize(w, (38, 38), interpolation=cv2.INTER_AREA),
            (side, side),
            interpolation=cv2.INTER_CUBIC,
        ),
        "cvtColor_RGB2YUV_I420": lambda w: cv2.cvtColor(w, cv2.COLOR_RGB2YUV_I420),
        "cvtColor_YUV2RGB_I420": lambda w: cv2.cvtColor(
            cv2.cvtColor(w, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420
        ),
        "x264_roundtrip_crf45": lambda w: codec_roundtrip(w[None], "x264", crf=45),
    }
    for name, call in calls.items():
        out[name] = sha_bytes(b"".join(np.ascontiguousarray(call(w)).tobytes() for w in windows))[
            :16
        ]
    # the x264 bitstream itself (encoder side), before decoding
    h = hashlib.sha256()
    for w in windows:
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = side, side, "yuv420p"
        enc.time_base, enc.framerate = Fraction(1, 25), Fraction(25, 1)
        enc.options = reproducible_x264_options(crf="45", preset="veryfast")
        enc.thread_count = 1
        pic = av.VideoFrame.from_ndarray(cv2.cvtColor(w, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        pic.pts = 0
        for packet in [*enc.encode(pic), *enc.encode(None)]:
            h.update(bytes(packet))
    out["x264_bitstream_crf45"] = h.hexdigest()[:16]
    out["weights_sha"] = sha_bytes(json.dumps(out, sort_keys=True).encode())
    out["forward_sha"] = out["weights_sha"]
    return out


# -- (c) BasicVSR++ restorer --------------------------------------------------------------------
def restore_clip(rng: Any, frames: int, size: int) -> tuple[Any, Any, Any]:
    """(lq, gt, mask) float clips (T, 3, H, W) from integer data: a moving blocky image, an 8 px
    mosaic (block means by integer division) inside a square."""
    import numpy as np
    import torch

    big = blocky_image(rng, size + frames * 2, size + frames * 2, int(rng.integers(4, 12)))
    gt = np.stack([big[2 * t : 2 * t + size, t : t + size] for t in range(frames)])
    mask = np.zeros((frames, size, size), np.uint8)
    y0, x0 = (int(v) for v in rng.integers(0, size // 2, 2))
    mask[:, y0 : y0 + size // 2, x0 : x0 + size // 2] = 1
    b = 8
    blocks = gt.reshape(frames, size // b, b, size // b, b, 3).astype(np.int32).sum((2, 4)) // (
        b * b
    )
    mosaic = np.repeat(np.repeat(blocks, b, 1), b, 2).astype(np.uint8)
    lq = np.where(mask[..., None] > 0, mosaic, gt)

    def tens(a: Any) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float() / 255.0

    return tens(lq), tens(gt), torch.from_numpy(mask[:, None].astype(np.float32))


def part_restore(steps: int, size: str, trace: Any, save: Path | None, work: Path) -> dict:
    import numpy as np
    import torch

    from mosaicflow.config import build
    from mosaicflow.restore.config import RestorationConfig, job_from
    from mosaicflow.restore.stage1 import Stage1
    from mosaicflow.restore.stage2 import Stage2Model

    cfg = build(RestorationConfig, demo_config()["restoration"])
    s1, s2 = cfg.stage1, cfg.stage2
    assert s1 is not None and s2 is not None
    out: dict[str, Any] = {
        "spec": {
            "mid": cfg.mid_channels,
            "blocks": cfg.num_blocks,
            "hr_skip": cfg.hr_skip,
            "size": s1.size,
            "frames": s1.num_frames,
            "batch": s1.batch_size,
            "stage1_steps": steps,
            "stage2_steps": max(1, steps // 2),
        }
    }
    rng = np.random.default_rng(SEED + 2)
    clips = [restore_clip(rng, s1.num_frames, s1.size) for _ in range(4)]
    out["data_sha"] = sha_any(clips)[:16]
    dev = torch.device("cpu")

    def batch_of(i: int) -> tuple[Any, Any, Any]:
        items = [clips[(i * s1.batch_size + j) % len(clips)] for j in range(s1.batch_size)]
        return tuple(torch.stack([it[k] for it in items]) for k in range(3))  # type: ignore

    torch.manual_seed(SEED)
    stage = Stage1(job_from(cfg, "stage1"), dev)
    out["init_sha"] = sha_tensors(stage.model.state_dict().items())[:16]
    tracer = Tracer(stage.model, "restore.g", ops=trace.mode == "ops") if trace.mode else None
    losses, times1, times2 = [], [], []
    for it in range(steps):
        t0 = time.perf_counter()
        if tracer is not None and it < trace.steps:
            tracer.start()
        lq, gt, mask = batch_of(it)
        losses.append(round(stage.train_step(lq, gt, mask, it)["pixel"], 6))
        if tracer is not None:
            tracer.note(f"params after step {it}", params_of(stage.model))
            tracer.stop()
        times1.append(time.perf_counter() - t0)
    if tracer is not None:
        tracer.remove()
        out["trace"] = tracer.entries
    gen_state = {k: v.detach().clone() for k, v in stage.model.state_dict().items()}
    out["stage1_weights_sha"] = sha_tensors(gen_state.items())
    # stage 2 from the stage-1 generator (no perceptual loss: the demo has no VGG19 weights)
    torch.manual_seed(SEED + 3)
    model2 = Stage2Model(job_from(cfg, "stage2"), None)
    model2.generator.load_state_dict(gen_state)
    model2.generator_ema.load_state_dict(gen_state)
    losses2 = []
    tracer2 = Tracer(model2, "restore.s2", ops=trace.mode == "ops") if trace.mode else None
    for it in range(max(1, steps // 2)):
        t0 = time.perf_counter()
        if tracer2 is not None and it < trace.steps:
            tracer2.start()
        lq, gt, mask = batch_of(it + steps)
        r = model2.train_step(lq, gt, mask, it)
        if tracer2 is not None:
            tracer2.note(f"stage 2 params after step {it}", params_of(model2))
            tracer2.stop()
        losses2.append({k: round(v, 6) for k, v in r.items()})
        times2.append(time.perf_counter() - t0)
    if tracer2 is not None:
        tracer2.remove()
        out["trace"] = out.get("trace", []) + tracer2.entries
    out["stage2_weights_sha"] = sha_tensors(
        (f"{part}.{k}", v) for part, sd in model2.parts().items() for k, v in sd.items()
    )
    out["weights_sha"] = out["stage2_weights_sha"]
    ema = model2.generator_ema.eval()
    lq, _, _ = batch_of(99)
    with torch.no_grad():
        out["forward_sha"] = sha_any(ema(lq))
    out.update(
        losses=losses,
        stage2_losses=losses2,
        step_s=median_step(times1),
        stage2_step_s=median_step(times2),
        step_times=[round(t, 3) for t in times1],
        stage2_step_times=[round(t, 3) for t in times2],
    )
    save_state(save, "restore_stage1", gen_state)
    save_state(
        save,
        "restore_stage2",
        {f"{p}.{k}": v for p, sd in model2.parts().items() for k, v in sd.items()},
    )
    return out


# -- run / compare / speed ----------------------------------------------------------------------
def cpu_report() -> dict[str, Any]:
    import cv2
    import numpy._core._multiarray_umath as umath
    import torch

    found = [k for k, v in umath.__cpu_features__.items() if v]
    dispatch = [k for k in getattr(umath, "__cpu_dispatch__", []) if umath.__cpu_features__.get(k)]
    return {
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "numpy_dispatch_targets_on": dispatch,
        "numpy_avx512f": "AVX512F" in found,
        "opencv": cv2.getCPUFeaturesLine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def cmd_run(args: argparse.Namespace) -> int:
    # nothing heavy is imported before this point: the environment reaches every library
    for key, value in COMMON_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.update(SETTINGS[args.setting])
    sys.path.insert(0, str(REPO / "src"))
    import torch

    torch.set_num_threads(THREADS)
    result: dict[str, Any] = {
        "setting": args.setting,
        "label": args.label or args.setting,
        "size": args.size,
        "env": {
            k: os.environ[k] for k in (*HELD_ENV, *COMMON_ENV, "ONEDNN_VERBOSE") if k in os.environ
        },
        "cpu": cpu_report(),
        "parts": {},
    }
    funcs = {
        "yolo": part_yolo,
        "quality": part_quality,
        "restore": part_restore,
        "degrade": part_degrade,
    }
    result["exact_vml"] = bool(args.exact_vml)
    exact = exact_vml_mode() if args.exact_vml else None
    if exact is not None:
        import torchvision  # noqa: F401  (its import calls ops: not under a dispatch mode)

        exact.__enter__()
    with tempfile.TemporaryDirectory(prefix="kernel_parity_") as tmp:
        for part in args.parts.split(","):
            t0 = time.perf_counter()
            torch.set_num_threads(THREADS)
            trace = argparse.Namespace(
                mode=args.trace_mode if args.trace else "", steps=args.trace_steps
            )
            res = funcs[part](args.steps, args.size, trace, args.save, Path(tmp) / part)
            res["seconds"] = round(time.perf_counter() - t0, 1)
            result["parts"][part] = res
            print(
                f"{part}: weights {res['weights_sha'][:16]} forward {res['forward_sha'][:16]} "
                f"({res['seconds']} s, step {res.get('step_s')} s)",
                flush=True,
            )
    traces = {p: r.pop("trace") for p, r in result["parts"].items() if "trace" in r}
    if args.trace:
        Path(args.trace).write_text(json.dumps(traces))
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    else:
        print(text)
    return 0


SHA_KEYS = (
    "data_sha",
    "input_shas",
    "weights_sha",
    "ema_sha",
    "best_pt_fp16_sha",
    "stage1_weights_sha",
    "stage2_weights_sha",
    "forward_sha",
    "losses",
)


def cmd_compare(args: argparse.Namespace) -> int:
    runs = [json.loads(Path(p).read_text()) for p in args.results]
    labels = [r["label"] for r in runs]
    print("| part | value | " + " | ".join(labels) + " |")
    print("|---|---|" + "---|" * len(runs))
    for part in (*PARTS, "degrade"):
        keys = SHA_KEYS
        if part == "degrade":
            keys = tuple(next((r["parts"][part] for r in runs if part in r["parts"]), {}))
            keys = tuple(k for k in keys if k != "seconds")
        for key in keys:
            values = [r["parts"].get(part, {}).get(key) for r in runs]
            if all(v is None for v in values):
                continue
            names: dict[str, str] = {}
            cells = []
            for v in values:
                s = json.dumps(v)
                names.setdefault(s, "ABCDEFGHIJ"[len(names)])
                short = v[:8] if isinstance(v, str) else ""
                cells.append(f"{names[s]} {short}".strip())
            print(f"| {part} | {key} | " + " | ".join(cells) + " |")
    if args.traces:
        a, b = (json.loads(Path(p).read_text()) for p in args.traces)
        for part in a:
            x, y = a[part], b.get(part, [])
            pairs = list(zip(x, y, strict=False))
            # the first entry whose result differs (inputs may differ by uninitialised bytes)
            first = next(
                (i for i, (u, v) in enumerate(pairs) if u[1] != v[1] or u[3] != v[3]), None
            )
            if first is None:
                print(f"{part}: traces equal ({len(x)} entries)")
                continue
            print(f"{part}: first differing entry {first} of {len(x)} (right: the other run):")
            for i in range(max(0, first - 2), min(len(pairs), first + 4)):
                print("   ", i, x[i], "|", y[i][2:4])
            # ops whose inputs are equal in both runs but whose outputs are not
            culprits: dict[str, int] = {}
            for u, v in pairs:
                if u[0] == "op" and u[1] == v[1] and u[2] == v[2] and u[3] != v[3]:
                    culprits[u[1]] = culprits.get(u[1], 0) + 1
            if culprits:
                print(f"    equal inputs, other output: {culprits}")
    if args.saved:
        import torch

        da, db = (Path(p) for p in args.saved)
        for f in sorted(da.glob("*.pt")):
            x, y = torch.load(f), torch.load(db / f.name)
            diffs = [
                (float((x[k].float() - y[k].float()).abs().max()), k)
                for k in x
                if x[k].is_floating_point()
            ]
            worst = max(diffs)
            unequal = sum(1 for d, _ in diffs if d > 0)
            print(
                f"{f.stem}: {unequal}/{len(diffs)} tensors differ, max |diff| {worst[0]:.3g} "
                f"({worst[1]})"
            )
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    """Step times of each setting at the demo's sizes, in alternating subprocesses; ratios
    against ``default``."""
    settings = ["default", *[x for x in args.settings.split(",") if x != "default"]]
    times: dict[str, dict[str, list[float]]] = {s: {} for s in settings}
    for rnd in range(args.rounds):
        order = settings if rnd % 2 == 0 else settings[::-1]
        for setting in order:
            with tempfile.NamedTemporaryFile(suffix=".json") as f:
                cmd = [
                    sys.executable,
                    __file__,
                    "run",
                    "--setting",
                    setting,
                    "--size",
                    "demo",
                    "--parts",
                    args.parts,
                    "--steps",
                    str(args.steps),
                    "--json",
                    f.name,
                ]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                res = json.loads(Path(f.name).read_text())
            for part, r in res["parts"].items():
                for key in ("step_s", "step_wall_s", "stage2_step_s"):
                    if r.get(key) is not None:
                        name = part if key == "step_s" else f"{part}_{key[:-2]}"
                        times[setting].setdefault(name, []).append(r[key])
            print(rnd, setting, {k: v[-1] for k, v in times[setting].items()}, flush=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(REPO / "src"))
    from benchlib import record, verdict

    entry: dict[str, Any] = {"rounds": args.rounds, "steps": args.steps, "settings": settings}
    for setting in settings[1:]:
        worst = 0.0
        rows: dict[str, Any] = {}
        for name, base in times["default"].items():
            a, b = statistics.median(base), statistics.median(times[setting][name])
            worst = max(worst, b / a)
            rows[name] = {
                "default_s": round(a, 4),
                f"{setting}_s": round(b, 4),
                "ratio": round(b / a, 3),
                "default_all": base,
                f"{setting}_all": times[setting][name],
            }
        rows["worst_ratio"] = round(worst, 3)
        rows["verdict"] = verdict(worst, 1.15, floor=1.3, higher_is_better=False)
        entry[setting] = rows
    record("kernel_parity_speed", entry)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="train each part briefly and print the hashes")
    run.add_argument("--setting", choices=sorted(SETTINGS), default="default")
    run.add_argument("--label", default="", help="name of the run in the JSON (e.g. milan-held)")
    run.add_argument("--parts", default=",".join(PARTS))
    run.add_argument("--steps", type=int, default=3)
    run.add_argument("--size", choices=sorted(SIZES), default="parity")
    run.add_argument("--trace", default="", help="write per-module/gradient hashes here")
    run.add_argument("--trace-mode", choices=("modules", "ops"), default="modules")
    run.add_argument("--trace-steps", type=int, default=1, help="trace the first N steps")
    run.add_argument("--save", type=Path, default=None, help="save final weights here")
    run.add_argument("--json", default="", help="write the result here instead of stdout")
    run.add_argument(
        "--exact-vml",
        action="store_true",
        help="experiment: compute sqrt/atan/pow(.,0.5) without MKL VML (see exact_vml_mode)",
    )
    run.set_defaults(func=cmd_run)
    cmp_ = sub.add_parser("compare", help="compare result JSON files")
    cmp_.add_argument("results", nargs="+")
    cmp_.add_argument("--traces", nargs=2, default=None)
    cmp_.add_argument("--saved", nargs=2, default=None)
    cmp_.set_defaults(func=cmd_compare)
    speed = sub.add_parser("speed", help="held vs default step times at the demo's sizes")
    speed.add_argument("--rounds", type=int, default=3)
    speed.add_argument("--steps", type=int, default=5)
    speed.add_argument("--parts", default=",".join(PARTS))
    speed.add_argument(
        "--settings", default="held", help="compared with default, e.g. held,held-avx"
    )
    speed.set_defaults(func=cmd_speed)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
