"""Training of the region models with the public ``YOLO(...).train(...)``, resumable and offline.

Training state (``last.pt``, ``results.csv``, the dataset mirror and ultralytics' config folder)
lives in ``<work_root>/<key>/``, where ``key`` hashes the training settings and the dataset's
content (design.md "Paths": ``results/<stage>/_work/<config-hash>/``). It is not a declared
output, so an interrupted job keeps it: the rerun resumes from ``last.pt``. A finished run there
(``done.json``) is reused as is, so a change that only touches evaluation does not retrain.

Budgets count work, never the clock: a model trains for ``epochs`` with the optimizer and
learning rate the config names (never ultralytics' ``auto``, which picks MuSGD or AdamW from the
planned iteration count), so the same config trains the same model on any machine. An opt-in
wall-clock cap (``time_minutes``) ends training after the epoch that crosses it, without
changing the schedule, and the record says so.

CPU fixes (facts.md): torch uses the rule's threads (ultralytics would use ``cpu_count - 1``),
``nbs = batch`` (every batch an optimizer step), short warm-up, no per-epoch validation.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mosaicflow.config import stable_hash
from mosaicflow.formats.images import list_images
from mosaicflow.io import atomic_path, read_json, write_json, write_text
from mosaicflow.provenance import file_hash, provenance
from mosaicflow.regions.config import RegionsConfig, WatermarkConfig, stage_config_class

log = logging.getLogger(__name__)

#: Bump when the meaning of the training state changes (invalidates old work folders).
STATE_VERSION = 2
RESUME_COPY = "resume.pt"
MODEL_JSON_VERSION = 2


@dataclass(frozen=True)
class TrainSpec:
    """What one YOLO training run needs, common to the segmenter and the detector."""

    task: str  # "segment" or "detect"
    model: str
    pretrained: str | None
    weights: str | None
    imgsz: int
    epochs: int
    time_minutes: float | None  # opt-in wall-clock cap (see TimeCap); None or 0 = none
    optimizer: str
    lr0: float
    warmup_bias_lr: float
    batch: int
    nbs: int | None
    warmup_epochs: float
    val_during_training: bool
    close_mosaic: int
    single_cls: bool
    copy_paste: float = 0.0  # segment copy-paste augmentation (segmentation only)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    cpu_precision: str = "auto"  # auto | bf16 | fp32 (see mosaicflow.regions.cpu_training)

    def train_args(self) -> dict[str, Any]:
        """Ultralytics train arguments of this spec (before device, paths and threads)."""
        args: dict[str, Any] = {
            "epochs": self.epochs,
            "optimizer": self.optimizer,
            "lr0": self.lr0,
            "warmup_bias_lr": self.warmup_bias_lr,
            "imgsz": self.imgsz,
            "batch": self.batch,
            "nbs": self.nbs or self.batch,
            "warmup_epochs": self.warmup_epochs,
            "val": self.val_during_training,
            "close_mosaic": self.close_mosaic,
            "single_cls": self.single_cls,
            "plots": False,
            "deterministic": True,
        }
        if self.task == "segment":
            args["copy_paste"] = self.copy_paste
        args.update(dict(self.overrides))
        if str(args["optimizer"]).lower() == "auto":
            raise ValueError(
                "optimizer 'auto' lets ultralytics pick the optimizer and learning rate from the "
                "planned iteration count: name one (SGD, AdamW, MuSGD, ...)"
            )
        if args.pop("time", None):
            raise ValueError("ultralytics' `time` budget fits training to the clock: use epochs")
        return args


def spec_from_config(cfg: Any, task: str, **fixed: Any) -> TrainSpec:
    """The training spec of a stage config: every :class:`TrainSpec` field the config has, by
    name, plus ``task`` and ``fixed`` values for fields the stage does not configure."""
    values = {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(TrainSpec)
        if f.name != "task" and hasattr(cfg, f.name)
    }
    values["overrides"] = dict(values.get("overrides") or {})
    return TrainSpec(task=task, **{**values, **fixed})


def region_spec(cfg: RegionsConfig) -> TrainSpec:
    """The training spec of the region segmenter."""
    return spec_from_config(cfg, "segment", single_cls=False)


def watermark_spec(cfg: WatermarkConfig) -> TrainSpec:
    """The training spec of the watermark detector."""
    return spec_from_config(cfg, "detect", copy_paste=0.0)


def _test_segmenter(weights: Path, items: list[Any], cfg: Any, device: str) -> dict[str, Any]:
    from mosaicflow.regions.evaluate import evaluate_segmenter

    return evaluate_segmenter(
        weights, items, imgsz=cfg.imgsz, device=device, batch=cfg.batch, iou=cfg.iou
    )


def _test_detector(weights: Path, items: list[Any], cfg: Any, device: str) -> dict[str, Any]:
    from mosaicflow.regions.evaluate import evaluate_detector

    return evaluate_detector(
        weights, items, imgsz=cfg.imgsz, device=device, batch=cfg.batch, single_cls=cfg.single_cls
    )


@dataclass(frozen=True)
class StageKind:
    """What differs between the region-model stages: the training spec and the test scorer."""

    spec: Callable[[Any], TrainSpec]  # stage config -> training spec
    test: Callable[[Path, list[Any], Any, str], dict[str, Any]]  # (weights, items, cfg, device)


#: One entry per stage of ``regions.config.STAGE_CONFIGS`` (checked by a unit test).
STAGES: dict[str, StageKind] = {
    "region_seg": StageKind(region_spec, _test_segmenter),
    "watermark": StageKind(watermark_spec, _test_detector),
}


def stage_kind(stage: str, cfg: RegionsConfig | WatermarkConfig) -> StageKind:
    """The ``STAGES`` entry of ``stage``; fails when ``cfg`` is not that stage's config."""
    if not isinstance(cfg, stage_config_class(stage)):
        raise ValueError(f"stage {stage!r} does not take a {type(cfg).__name__}")
    return STAGES[stage]


@dataclass(frozen=True)
class DatasetInfo:
    """A YOLO dataset as the trainer sees it (mirrored into the work folder)."""

    root: Path
    names: dict[int, str]
    splits: dict[str, Path]  # split -> absolute images folder
    data_hash: str
    counts: dict[str, int]


def read_dataset(dataset_dir: str | os.PathLike[str]) -> DatasetInfo:
    """Read a YOLO dataset folder (``data.yaml`` with names, ``train``/``val`` image folders).

    Paths in ``data.yaml`` may be absolute or relative to its ``path`` key (or to the folder).

    Raises:
        ValueError: naming the file when ``data.yaml`` is missing or lacks names or splits.
    """
    root = Path(dataset_dir).resolve()
    data_yaml = root / "data.yaml"
    if not data_yaml.is_file():
        raise ValueError(f"{data_yaml}: YOLO dataset description not found")
    data = yaml.safe_load(data_yaml.read_text(encoding="utf-8")) or {}
    names = data.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise ValueError(f"{data_yaml}: no class 'names'")
    names = {int(k): str(v) for k, v in names.items()}
    base = Path(data.get("path") or root)
    if not base.is_absolute():
        base = root / base
    splits: dict[str, Path] = {}
    counts: dict[str, int] = {}
    digest = hashlib.sha256(json.dumps(names, sort_keys=True).encode())
    for split in ("train", "val"):
        if not data.get(split):
            raise ValueError(f"{data_yaml}: no '{split}' split")
        images = Path(data[split])
        images = images if images.is_absolute() else base / images
        labels = images.parent / "labels"
        if not images.is_dir() or images.name != "images" or not labels.is_dir():
            raise ValueError(
                f"{data_yaml}: split '{split}' must be an 'images' folder with a sibling "
                f"'labels' folder, got {images}"
            )
        found = list_images(images)
        label_files = sorted(labels.glob("*.txt"))
        splits[split] = images
        counts[f"{split}_images"] = len(found)
        for path in found + label_files:
            digest.update(f"{split}/{path.parent.name}/{path.name}".encode() + b"\0")
            digest.update(file_hash(path).encode() + b"\0")
    return DatasetInfo(root, names, splits, digest.hexdigest()[:16], counts)


def mirror_dataset(info: DatasetInfo, folder: Path) -> Path:
    """Mirror the dataset into ``folder``: image symlinks, label copies, a new data.yaml.

    Ultralytics resolves folder links and writes label caches next to the labels; with real
    folders of file links the caches stay in the work folder, so inputs are never modified.
    Returns the data.yaml path.
    """
    for split, images in info.splits.items():
        out_images, out_labels = folder / split / "images", folder / split / "labels"
        for out in (out_images, out_labels):
            if out.is_symlink():
                out.unlink()
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
        for image in list_images(images):
            (out_images / image.name).symlink_to(image.resolve())
        for label in sorted((images.parent / "labels").glob("*.txt")):
            shutil.copyfile(label, out_labels / label.name)
    text = yaml.safe_dump(
        {
            "path": str(folder.resolve()),
            "train": "train/images",
            "val": "val/images",
            "nc": len(info.names),
            "names": info.names,
        },
        sort_keys=False,
    )
    data_yaml = folder / "data.yaml"
    write_text(data_yaml, text)
    return data_yaml


@dataclass
class TrainResult:
    """Outcome of :func:`train_yolo`."""

    weights: Path
    work_dir: Path
    trained: bool  # False: given weights or a finished run reused
    resumed_at_epoch: int | None  # 0-based epoch the resumed run started at (> 0)
    epochs_run: int
    seconds: float
    source: str  # "trained", "resumed", "reused" or "weights"
    time_capped: bool = False  # the wall-clock cap ended training before `epochs`


class TimeCap:
    """Ultralytics callback (``on_train_epoch_end``): stop after the epoch that crosses a cap.

    Unlike ultralytics' own ``time=`` budget, which re-plans the epoch count and the learning-rate
    schedule from the measured speed, the cap leaves the schedule of ``epochs`` alone: a run that
    finishes within the cap is the same model as one without it. Setting ``trainer.stop`` before
    the validation step makes ultralytics validate and save that epoch as its last.

    Args:
        minutes: the cap in minutes of this job's training (a resumed job starts a new count).
        clock: seconds since an arbitrary start (tests pass a fake one).
    """

    def __init__(self, minutes: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = minutes * 60.0
        self.clock = clock
        self.start = clock()
        self.hit = False

    def __call__(self, trainer: Any) -> None:
        final = trainer.epoch + 1 >= trainer.epochs
        if not final and self.clock() - self.start > self.seconds:
            self.hit = True
            trainer.stop = True
            log.warning(
                "time cap of %.1f minutes reached after epoch %d of %d: training stops early, "
                "the model card records it", self.seconds / 60, trainer.epoch + 1, trainer.epochs,
            )  # fmt: skip


def state_key(spec: TrainSpec, data_hash: str, seed: int, device: str) -> str:
    """The work-folder name: hash of the training settings, the data and the seed."""
    return stable_hash(
        {"spec": plain(spec), "data": data_hash, "seed": seed, "device": device,
         "state_version": STATE_VERSION}
    )  # fmt: skip


def _checkpoint_epoch(path: Path) -> int | None:
    """Epoch stored in an ultralytics checkpoint (-1 = finished), None when unreadable."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a checkpoint cut short by a kill cannot be loaded
        log.warning("%s: unreadable checkpoint (%s); starting over", path, err)
        return None
    return int(ckpt.get("epoch", -1)) if isinstance(ckpt, dict) else None


def _epochs_in_csv(run_dir: Path) -> int:
    path = run_dir / "results.csv"
    if not path.is_file():
        return 0
    with open(path, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def train_yolo(
    spec: TrainSpec,
    dataset: DatasetInfo,
    work_dir: Path,
    *,
    device: str,
    threads: int,
    seed: int,
    on_epoch: Callable[[int, int], None] | None = None,
    callbacks: Mapping[str, Callable[[Any], None]] | None = None,
) -> TrainResult:
    """Train (or resume, or reuse) a YOLO model in ``work_dir``.

    Args:
        spec: the training settings.
        dataset: the dataset (mirrored into ``work_dir/data``).
        work_dir: the run's state folder (``.../_work/<key>``).
        device: an ultralytics device string (``cpu``, ``0``...).
        threads: CPU threads (torch) and dataloader workers.
        seed: training seed.
        on_epoch: called with ``(epoch_index, epochs_planned)`` after every epoch.
        callbacks: extra ultralytics callbacks by event name (benchmarks time steps with them).

    Returns:
        The best weights in ``work_dir`` and how they came about.
    """
    from ultralytics import YOLO

    from mosaicflow.regions.cpu_training import CpuTrainingSpeedups, resolve_cpu_precision
    from mosaicflow.regions.offline import amp_allowed, pin_threads

    work_dir = Path(work_dir).resolve()  # ultralytics nests relative paths in its runs_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    run_dir = work_dir / "run"
    last, best = run_dir / "weights" / "last.pt", run_dir / "weights" / "best.pt"
    done = work_dir / "done.json"
    start = time.monotonic()
    if done.is_file() and best.is_file():
        record = read_json(done)
        log.info("reusing the finished run in %s (%s epochs)", work_dir, record.get("epochs_run"))
        return TrainResult(
            best, work_dir, False, record.get("resumed_at_epoch"), int(record["epochs_run"]),
            0.0, "reused", bool(record.get("time_capped")),
        )  # fmt: skip
    data_yaml = mirror_dataset(dataset, work_dir / "data")
    # ultralytics writes last.pt in place: a kill during the write leaves it truncated, so
    # every save is also copied atomically to resume.pt, the fallback.
    backup = work_dir / RESUME_COPY
    resume_from, resume_epoch = None, None
    for candidate in (last, backup):
        epoch = _checkpoint_epoch(candidate) if candidate.is_file() else None
        if epoch is not None and epoch >= 0:  # -1: finished (optimizer stripped)
            resume_from, resume_epoch = candidate, epoch
            break
    if resume_from is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        backup.unlink(missing_ok=True)

    logged: set[int] = set()

    def epoch_callback(trainer: Any) -> None:
        # ultralytics calls it again after the final validation, with the epoch counter moved on
        if trainer.epoch in logged or trainer.epoch >= trainer.epochs:
            return
        logged.add(trainer.epoch)
        if on_epoch is not None:
            on_epoch(int(trainer.epoch), int(trainer.epochs))
        log.info("epoch %d/%d done (%.0f s)", trainer.epoch + 1, trainer.epochs, trainer.epoch_time)

    common = {
        "data": str(data_yaml),
        "device": device,
        "workers": threads,
        "project": str(work_dir),
        "name": "run",
        "exist_ok": True,
    }
    if resume_from is not None:
        log.info("resuming %s after epoch %d", resume_from, resume_epoch + 1)
        model = YOLO(str(resume_from))
        kwargs = {**common, "resume": True}
    else:
        if spec.pretrained:
            model = YOLO(spec.pretrained, task=spec.task)
        else:
            model = YOLO(spec.model, task=spec.task)
        kwargs = {
            **spec.train_args(),
            **common,
            "seed": seed,
            "pretrained": bool(spec.pretrained),
        }
        kwargs.setdefault("amp", amp_allowed(device))
    pin_threads(model, threads)
    if device == "cpu":
        bf16 = resolve_cpu_precision(spec.cpu_precision, device) == "bf16"
        model.add_callback("on_pretrain_routine_end", CpuTrainingSpeedups(bf16=bf16))
    model.add_callback("on_fit_epoch_end", epoch_callback)
    model.add_callback("on_model_save", lambda trainer: copy_atomic(Path(trainer.last), backup))
    cap = TimeCap(spec.time_minutes) if spec.time_minutes else None
    if cap is not None:
        model.add_callback("on_train_epoch_end", cap)
    for event, callback in (callbacks or {}).items():
        model.add_callback(event, callback)
    model.train(**kwargs)
    if not best.is_file():
        raise RuntimeError(f"{run_dir}: training ended without {best.name}")
    epochs_run = _epochs_in_csv(run_dir)
    seconds = time.monotonic() - start
    source = "resumed" if resume_epoch is not None else "trained"
    resumed_at = resume_epoch + 1 if resume_epoch is not None else None
    capped = cap is not None and cap.hit
    write_json(
        done,
        {"epochs_run": epochs_run, "source": source, "resumed_at_epoch": resumed_at,
         "time_capped": capped},
    )  # fmt: skip
    return TrainResult(
        best, work_dir, True, resumed_at, epochs_run, round(seconds, 1), source, capped
    )


def plain(obj: Any) -> Any:
    """A stage config (frozen dataclass with read-only mappings) as plain JSON-able data."""
    import types

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping | types.MappingProxyType):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj


def model_names(weights: str | os.PathLike[str], task: str) -> dict[int, str]:
    """Class names stored in a YOLO weights file."""
    from ultralytics import YOLO

    return {int(k): str(v) for k, v in YOLO(str(weights), task=task).names.items()}


def validate(
    weights: Path, data_yaml: Path, spec: TrainSpec, *, device: str, threads: int, project: Path
) -> dict[str, float]:
    """Box (and mask) mAP50 / mAP50-95 of ``weights`` on the dataset's val split."""
    from ultralytics import YOLO

    metrics = YOLO(str(weights), task=spec.task).val(
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
    from ultralytics import YOLO

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "best.pt"
    shutil.copyfile(weights, copy)
    out = YOLO(str(copy)).export(format="onnx", imgsz=imgsz, device="cpu", simplify=True)
    return Path(out)


def copy_atomic(src: Path, target: Path) -> None:
    """Copy a file into place atomically."""
    with atomic_path(target) as tmp:
        shutil.copyfile(src, tmp)


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
    import torch

    ckpt = torch.load(src, map_location="cpu", weights_only=False)
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
    # a file object, not a path: torch names the archive's records after a path's stem, and the
    # temporary file's random name would end up in the bytes
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        torch.save(ckpt, handle)


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


@dataclass(frozen=True)
class ModelOutputs:
    """The declared outputs of a training rule."""

    weights: Path
    onnx: Path
    train_json: Path


def run_training(
    spec: TrainSpec,
    stage: str,
    dataset_dir: Path | None,
    outputs: ModelOutputs,
    work_root: Path,
    *,
    config: Any,
    code: str,
    device: str,
    threads: int,
    seed: int,
) -> dict[str, Any]:
    """Train (or take ``spec.weights``), validate on the val split, export; write the record.

    Args:
        spec: training settings.
        stage: ``region_seg`` or ``watermark`` (names the model in the record).
        dataset_dir: the YOLO dataset (None only with ``spec.weights``).
        outputs: where best.pt, best.onnx and the training record (``train.json``) go.
        work_root: ``results/<stage>/_work``; the run's state folder is a hash below it.
        config: the stage config (hashed into the record).
        code: the rule's code hash.
        device: the config's device (``auto|cpu|cuda:N``).
        threads: the rule's threads.
        seed: the master seed.

    Returns:
        The training record (the model.json sidecar minus the test metrics).
    """
    from mosaicflow.regions.cpu_training import resolve_cpu_precision
    from mosaicflow.regions.offline import prepare_ultralytics, resolve_device

    work_root = Path(work_root).resolve()  # ultralytics nests relative paths in its runs_dir
    dataset = read_dataset(dataset_dir) if dataset_dir is not None else None
    if dataset is None and not spec.weights:
        raise ValueError(f"{stage}: neither a dataset nor weights to use")
    dev = resolve_device(device)
    spec = dataclasses.replace(
        spec, cpu_precision=resolve_cpu_precision(spec.cpu_precision, dev)
    )  # the state key and the record name the precision used, not "auto"
    key = state_key(spec, dataset.data_hash if dataset else "", seed, dev)
    work_dir = work_root / key
    prepare_ultralytics(work_dir / "yolo_config", threads)
    log.info("%s: state folder %s, device %s, %d threads", stage, work_dir, dev, threads)
    started = time.monotonic()
    if spec.weights:
        result = TrainResult(Path(spec.weights), work_dir, False, None, 0, 0.0, "weights")
    else:
        assert dataset is not None
        result = train_yolo(spec, dataset, work_dir, device=dev, threads=threads, seed=seed)
    names = model_names(result.weights, spec.task)
    metrics: dict[str, Any] = {}
    if dataset is not None:
        data_yaml = mirror_dataset(dataset, work_dir / "data")
        metrics["val"] = validate(
            result.weights, data_yaml, spec, device=dev, threads=threads, project=work_dir
        )
        log.info("%s val: %s", stage, metrics["val"])
    onnx = export_onnx(result.weights, spec.imgsz, work_dir / "export")
    log.info(
        "%s: %s, %d epochs, training %.0f s, total %.0f s", stage, result.source,
        result.epochs_run, result.seconds, time.monotonic() - started,
    )  # fmt: skip
    record = provenance(
        config=plain(config),
        code=code,
        counts=dataset.counts if dataset else {},
        extra={
            "model": stage,
            "task": spec.task,
            "names": {str(k): v for k, v in sorted(names.items())},
            "imgsz": spec.imgsz,
            "metrics": metrics,
            "data_hash": dataset.data_hash if dataset else None,
            "state_key": key,
            "training": {
                "source": result.source,
                "resumed_at_epoch": result.resumed_at_epoch,
                "epochs_planned": spec.epochs,
                "epochs_run": result.epochs_run,
                "time_cap_minutes": spec.time_minutes or None,
                "time_capped": result.time_capped,
                "device": dev,
                "threads": threads,
                "cpu_precision": spec.cpu_precision,
                "train_args": spec.train_args(),
            },
            "model_json_version": MODEL_JSON_VERSION,
        },
    )
    write_weights(result.weights, outputs.weights)
    write_onnx(onnx, outputs.onnx)
    write_json(outputs.train_json, record)
    return record


def write_model_card(
    train_json: Path,
    test_metrics: dict[str, Any] | None,
    model_json: Path,
    metrics_json: Path,
    *,
    code: str,
) -> dict[str, Any]:
    """Write ``model.json`` (training record + test metrics) and ``results/metrics/<stage>.json``.

    Args:
        train_json: the training record written by :func:`run_training`.
        test_metrics: metrics on the demo world's test videos, or None (no ground truth).
        model_json: the model's sidecar to write.
        metrics_json: the stage's metrics file to write.
        code: the evaluation rule's code hash (recorded as ``evaluation_code_hash``).
    """
    record = read_json(train_json)
    if record.get("model_json_version") != MODEL_JSON_VERSION:
        raise ValueError(
            f"{train_json}: training record version {record.get('model_json_version')}"
        )
    if test_metrics is not None:
        record["metrics"]["test"] = test_metrics
    record["evaluation_code_hash"] = code
    write_json(metrics_json, {"model": record["model"], **record["metrics"]})
    write_json(model_json, record)
    return record


def train_model(
    stage: str,
    cfg: RegionsConfig | WatermarkConfig,
    dataset_dir: Path | None,
    outputs: ModelOutputs,
    work_root: Path,
    *,
    code: str,
    device: str,
    threads: int,
    seed: int,
) -> dict[str, Any]:
    """Rules ``train_region_seg`` / ``train_watermark``: train (resumable) or take the weights,
    validate, export. ``stage`` picks the spec (see ``STAGES``)."""
    return run_training(
        stage_kind(stage, cfg).spec(cfg), stage, dataset_dir, outputs, work_root, config=cfg,
        code=code, device=device, threads=threads, seed=seed,
    )  # fmt: skip


def evaluate_model(
    stage: str,
    cfg: RegionsConfig | WatermarkConfig,
    weights: Path,
    train_json: Path,
    test_items: list[Path],
    model_json: Path,
    metrics_json: Path,
    *,
    code: str,
    device: str,
    threads: int,
    config_dir: Path,
) -> dict[str, Any]:
    """Rules ``evaluate_region_seg`` / ``evaluate_watermark``: test on every frame, write cards.

    Args:
        stage: ``region_seg`` or ``watermark``.
        cfg: the stage config (imgsz, batch; ``single_cls`` for the watermark detector).
        weights: the model's best.pt.
        train_json: its training record.
        test_items: flat (video, truth.mkv, truth.json, ...) list of the demo's test videos;
            empty for user videos (no ground truth: no test metrics).
        model_json, metrics_json: outputs.
        code, device, threads: the rule's code hash, device and threads.
        config_dir: ultralytics' config folder for this job (under ``results/``).
    """
    from mosaicflow.regions.evaluate import truth_items
    from mosaicflow.regions.offline import prepare_ultralytics, resolve_device

    kind = stage_kind(stage, cfg)
    items = truth_items(test_items)
    test = None
    if items:
        prepare_ultralytics(config_dir, threads)
        test = kind.test(weights, items, cfg, resolve_device(device))
        log.info("%s test: %s", stage, test)
    return write_model_card(train_json, test, model_json, metrics_json, code=code)
