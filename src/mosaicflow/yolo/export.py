"""After training: class names, validation mAP, ONNX export, and reproducible copies of the
weights and the ONNX model (no wall-clock fields, paths relative to the working directory)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaicflow.io import atomic_path, save_torch
from mosaicflow.yolo.adapter import load_yolo
from mosaicflow.yolo.checkpoint import read_checkpoint
from mosaicflow.yolo.spec import TrainSpec


def model_names(
    weights: str | os.PathLike[str], task: str, *, origin: str | None = None
) -> dict[int, str]:
    """Class names stored in a YOLO weights file (``origin``: the config key it came from)."""
    model = load_yolo(weights, task, origin=origin)
    return {int(k): str(v) for k, v in model.names.items()}


def validate(
    weights: Path, data_yaml: Path, spec: TrainSpec, *, device: str, threads: int, project: Path
) -> dict[str, float]:
    """Box (and mask) mAP50 / mAP50-95 of ``weights`` on the dataset's val split."""
    metrics = load_yolo(weights, spec.task).val(
        data=str(data_yaml),
        split="val",
        imgsz=spec.imgsz,
        batch=spec.batch,
        device=device,
        workers=threads,
        single_cls=spec.single_cls,
        plots=False,
        verbose=False,
        project=str(project),
        name="val",
        exist_ok=True,
    )
    out = {"box_map50": float(metrics.box.map50), "box_map50_95": float(metrics.box.map)}
    if spec.task == "segment":
        out |= {"mask_map50": float(metrics.seg.map50), "mask_map50_95": float(metrics.seg.map)}
    return {k: round(v, 4) for k, v in out.items()}


def export_onnx(weights: Path, imgsz: int, folder: Path) -> Path:
    """Export ``weights`` to ONNX (static shape ``imgsz``) inside ``folder``; returns the file."""
    read_checkpoint(weights)  # refused naming the given file, not its copy
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "best.pt"
    shutil.copyfile(weights, copy)
    out = load_yolo(copy).export(format="onnx", imgsz=imgsz, device="cpu", simplify=True)
    return Path(out)


#: Fields ultralytics writes into checkpoints that depend on when and from which checkout the
#: run was made (wall clock; the git root, branch and commit), not on the weights.
VOLATILE_KEYS = ("date", "git")
#: Wall-clock columns of the per-epoch results table stored in checkpoints.
VOLATILE_COLUMNS = ("time",)


def _relative_paths(args: Mapping[str, Any], here: Path) -> dict[str, Any]:
    """``args`` with absolute paths below ``here`` made relative to it."""
    return {
        k: os.path.relpath(v, here) if isinstance(v, str) and v.startswith(f"{here}/") else v
        for k, v in args.items()
    }


def write_weights(src: Path, target: Path) -> None:
    """Copy an ultralytics checkpoint without run-dependent fields and with paths relative to
    the working directory: the same weights give the same bytes wherever the workflow ran."""
    ckpt = read_checkpoint(src)
    if isinstance(ckpt, dict):
        for key in VOLATILE_KEYS:
            ckpt.pop(key, None)
        if isinstance(ckpt.get("train_results"), dict):  # per-epoch table with wall-clock times
            ckpt["train_results"] = {
                k: v for k, v in ckpt["train_results"].items() if k not in VOLATILE_COLUMNS
            }
        here = Path.cwd().resolve()
        if isinstance(ckpt.get("train_args"), dict):
            ckpt["train_args"] = _relative_paths(ckpt["train_args"], here)
        for key in ("model", "ema"):  # the pickled models carry the train args too
            if isinstance(getattr(ckpt.get(key), "args", None), dict):
                ckpt[key].args = _relative_paths(ckpt[key].args, here)
    save_torch(ckpt, target)  # byte-reproducible: no temporary name in the archive


def write_onnx(src: Path, target: Path) -> None:
    """Copy an exported ONNX model without its wall-clock metadata and with paths relative to
    the working directory (its description names the training data)."""
    import onnx

    model = onnx.load(str(src))
    here = f"{Path.cwd().resolve()}/"
    keep = [p for p in model.metadata_props if p.key not in VOLATILE_KEYS]
    for prop in keep:
        prop.value = prop.value.replace(here, "")
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))
