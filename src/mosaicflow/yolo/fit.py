"""Training with the public ``YOLO(...).train(...)``: resumable, reusable, offline.

Training state (``last.pt``, ``results.csv``, the dataset mirror and ultralytics' config folder)
lives in ``<work_root>/<key>/``, where ``key`` hashes the training settings and the dataset's
content (the ``results/<stage>/_work/<config-hash>/`` convention of
:mod:`mosaicflow.plan.paths`). It is not a declared output, so an interrupted job keeps it:
the rerun resumes from ``last.pt``. A finished run there (``done.json``) is reused as is, so a
change that only touches evaluation does not retrain.

On a CPU torch uses the rule's threads: ultralytics would use ``cpu_count - 1``, a single thread
on a 2-core machine.
"""

from __future__ import annotations

import csv
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaicflow.config import stable_hash
from mosaicflow.io import atomic_path, read_json, write_json, write_text
from mosaicflow.progress import duration
from mosaicflow.yolo.adapter import load_yolo
from mosaicflow.yolo.budget import plan_budget
from mosaicflow.yolo.checkpoint import CheckpointError, UnsafeCheckpointError, read_checkpoint
from mosaicflow.yolo.dataset import DatasetInfo, listed_train_images, mirror_dataset
from mosaicflow.yolo.spec import TrainSpec, frozen_modules, plain

log = logging.getLogger(__name__)

#: Bump when the meaning of the training state changes (invalidates old work folders).
STATE_VERSION = 2
RESUME_COPY = "resume.pt"
#: The record of a finished run in its work folder (a rerun reuses the run).
DONE_RECORD = "done.json"


@dataclass
class YoloTrainResult:
    """Outcome of :func:`train_yolo`."""

    weights: Path
    work_dir: Path
    trained: bool  # False: given weights or a finished run reused
    resumed_at_epoch: int | None  # 0-based epoch the resumed run started at (> 0)
    epochs_run: int
    seconds: float
    source: str  # "trained", "resumed", "reused" or "weights"
    time_capped: bool = False  # the wall-clock cap ended training before `epochs`
    steps: int = 0  # optimizer steps taken (mosaicflow.yolo.budget.optimizer_steps)
    images_seen: int = 0  # training images gone through (listed images x epochs run)


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


class CheckpointCadence:
    """Ultralytics callbacks (``on_train_epoch_end``, ``on_model_save``): which epochs write the
    resume checkpoint.

    Ultralytics writes ``last.pt`` (and this module its atomic copy) after every epoch. On a
    small set an epoch is one batch, and the writes took a quarter of the training (12 labelled
    frames: 200 one-step epochs). The cadence writes the first epoch, the last, an epoch that
    stops training, every epoch when each epoch is validated, and otherwise the first epoch that
    ends at least ``ratio`` times the last write's duration after that write: the writes cost at
    most about 1 / ``ratio`` of the training, and a kill loses as much. The weights do not depend
    on when checkpoints are written.
    """

    def __init__(self, ratio: float = 9.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ratio = ratio
        self.clock = clock
        self.epoch_end: float | None = None
        self.written_at: float | None = None
        self.write_seconds = 0.0

    def decide(self, trainer: Any) -> None:
        """``on_train_epoch_end``: set ``trainer.args.save`` for this epoch."""
        self.epoch_end = now = self.clock()
        final = trainer.epoch + 1 >= trainer.epochs or bool(trainer.stop)
        due = self.written_at is None or now - self.written_at >= self.ratio * self.write_seconds
        trainer.args.save = bool(final or trainer.args.val or due)

    def written(self, trainer: Any) -> None:
        """``on_model_save``: time the write just made."""
        self.written_at = self.clock()
        if self.epoch_end is not None:
            self.write_seconds = self.written_at - self.epoch_end


def state_key(
    spec: TrainSpec, data_hash: str, seed: int, device: str, *, init: str = "", code: str = ""
) -> str:
    """The work-folder name: hash of the training settings, the data, the seed, the rule's code
    hash (a code change starts afresh instead of resuming) and, when the run starts from
    another model of the workflow, that model's digest (``init``).

    ``spec`` is the planned one (:func:`mosaicflow.yolo.budget.plan_budget`): its ``epochs`` are
    the effective ones, ``min_steps`` folded in, so a ``min_steps`` that changes the epochs
    never resumes a run of other epochs, and one that changes nothing reuses the run.

    Raises:
        ValueError: ``spec`` still has ``min_steps`` to plan.
    """
    if spec.min_steps:
        raise ValueError(
            f"state_key needs the planned spec (plan_budget): min_steps {spec.min_steps} is not "
            "folded into its epochs yet"
        )
    identity = {"spec": plain(spec), "data": data_hash, "seed": seed, "device": device,
                "state_version": STATE_VERSION}  # fmt: skip
    if code:
        identity["code"] = code
    if init:
        identity["init"] = init
    return stable_hash(identity)


def _own_checkpoint(path: Path) -> Any:
    """A checkpoint of the run, read restricted; None when a kill cut it short.

    Raises:
        UnsafeCheckpointError: it names a global outside ultralytics' allow-list (refused, not
            taken for a truncated file).
    """
    try:
        return read_checkpoint(path)
    except UnsafeCheckpointError:
        raise
    except CheckpointError as err:
        log.warning("%s: unreadable checkpoint (%s)", path, err)
        return None


def _checkpoint_epoch(path: Path) -> int | None:
    """Epoch stored in an ultralytics checkpoint (-1 = finished), None when unreadable."""
    ckpt = _own_checkpoint(path)
    return int(ckpt.get("epoch", -1)) if isinstance(ckpt, dict) else None


def resume_point(last: Path, backup: Path) -> tuple[Path, int] | None:
    """The checkpoint a killed run resumes from, and its 0-based epoch.

    ``last.pt`` first; when it is missing, unreadable (a kill cut it short) or finished, its
    atomic copy ``resume.pt``. None, with a warning when a file was there, when neither holds
    an unfinished epoch: the run starts afresh.
    """
    for candidate in (last, backup):
        epoch = _checkpoint_epoch(candidate) if candidate.is_file() else None
        if epoch is not None and epoch >= 0:  # -1: finished (optimizer stripped)
            return candidate, epoch
    present = [p.name for p in (last, backup) if p.is_file()]
    if present:
        log.warning("%s: no checkpoint to resume from (%s); training starts afresh",
                    last.parent, ", ".join(present))  # fmt: skip
    return None


def _epochs_in_csv(run_dir: Path) -> int:
    path = run_dir / "results.csv"
    if not path.is_file():
        return 0
    with open(path, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def trim_results_csv(run_dir: Path, epochs: int) -> int:
    """Keep the first ``epochs`` rows of ``run_dir/results.csv``; return how many were dropped.

    Ultralytics appends an epoch's row before it saves that epoch's checkpoint, so a kill between
    the two leaves a row the resumed run writes again. The file is rewritten atomically.
    """
    path = run_dir / "results.csv"
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[:1], [line for line in lines[1:] if line.strip()]
    if len(rows) <= epochs:
        return 0
    write_text(path, "".join(header + rows[:epochs]))
    return len(rows) - epochs


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
    origin: str | None = None,
) -> YoloTrainResult:
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
        origin: the config key ``spec.pretrained`` came from (named when it is refused).

    Returns:
        The best weights in ``work_dir`` and how they came about (with the optimizer steps
        taken: ``spec.min_steps`` is folded into its epochs first, see
        :func:`~mosaicflow.yolo.budget.plan_budget`).
    """
    work_dir = Path(work_dir).resolve()  # ultralytics nests relative paths in its runs_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    run_dir = work_dir / "run"
    best = run_dir / "weights" / "best.pt"
    start = time.monotonic()
    budget = plan_budget(spec, listed_train_images(dataset))
    spec = budget.spec
    reused = _reused_run(work_dir, best, budget)
    if reused is not None:
        return reused
    data_yaml = mirror_dataset(dataset, work_dir / "data")
    # ultralytics writes last.pt in place: a kill during the write leaves it truncated, so
    # every save is also copied atomically to resume.pt, the fallback.
    backup = work_dir / RESUME_COPY
    resume_from, resume_epoch = _resume_point(run_dir, best, backup)
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
        model, kwargs = load_yolo(resume_from), {**common, "resume": True}
    else:
        model, kwargs = _fresh_model(spec, common, seed=seed, device=device, origin=origin)
    cap = _add_callbacks(model, spec, device, threads, backup, _EpochLog(on_epoch), callbacks)
    model.train(**kwargs)
    if not best.is_file():
        raise RuntimeError(f"{run_dir}: training ended without {best.name}")
    epochs_run = _epochs_in_csv(run_dir)
    seconds = time.monotonic() - start
    source = "resumed" if resume_epoch is not None else "trained"
    resumed_at = resume_epoch + 1 if resume_epoch is not None else None
    capped = cap is not None and cap.hit
    write_json(
        work_dir / DONE_RECORD,
        {"epochs_run": epochs_run, "source": source, "resumed_at_epoch": resumed_at,
         "time_capped": capped},
    )  # fmt: skip
    return YoloTrainResult(
        best, work_dir, True, resumed_at, epochs_run, round(seconds, 1), source, capped,
        budget.steps(epochs_run, resumed_at), budget.images * epochs_run,
    )  # fmt: skip


def _reused_run(work_dir: Path, best: Path, budget: Any) -> YoloTrainResult | None:
    """The result of the finished run in ``work_dir``, or None when there is none."""
    done = work_dir / DONE_RECORD
    if not (done.is_file() and best.is_file()):
        return None
    record = read_json(done)
    log.info("reusing the finished run in %s (%s epochs)", work_dir, record.get("epochs_run"))
    run, resumed = int(record["epochs_run"]), record.get("resumed_at_epoch")
    return YoloTrainResult(
        best, work_dir, False, resumed, run, 0.0, "reused", bool(record.get("time_capped")),
        budget.steps(run, resumed), budget.images * run,
    )  # fmt: skip


def _resume_point(run_dir: Path, best: Path, backup: Path) -> tuple[Path | None, int | None]:
    """The checkpoint to resume from and its epoch; without one, the run folder is cleared."""
    point = resume_point(run_dir / "weights" / "last.pt", backup)
    if point is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        backup.unlink(missing_ok=True)
        return None, None
    resume_from, resume_epoch = point
    if best.is_file():  # ultralytics strips it at the end with its unrestricted loader
        _own_checkpoint(best)
    dropped = trim_results_csv(run_dir, resume_epoch + 1)
    if dropped:
        log.info("results.csv: dropped %d row(s) after the checkpoint's epoch", dropped)
    return resume_from, resume_epoch


def _fresh_model(
    spec: TrainSpec, common: dict[str, Any], *, seed: int, device: str, origin: str | None
) -> tuple[Any, dict[str, Any]]:
    """The model a new run starts from and its ``train`` arguments (frozen layers included)."""
    from mosaicflow.yolo.offline import amp_allowed

    if spec.pretrained:
        model = load_yolo(spec.pretrained, spec.task, origin=origin)
    elif spec.model:
        model = load_yolo(spec.model, spec.task)
    else:
        raise ValueError(
            "no start for training: `pretrained` (a .pt), `model` (a yaml, from scratch) "
            "or the YOLO base (both null, see `yolo_base`)"
        )
    kwargs = {**spec.train_args(), **common, "seed": seed, "pretrained": bool(spec.pretrained)}
    kwargs.setdefault("amp", amp_allowed(device))
    frozen = frozen_modules([type(m).__name__ for m in model.model.model], spec.freeze)
    if frozen:
        kwargs["freeze"] = frozen
    return model, kwargs


class _EpochLog:
    """The end-of-epoch callback: logs each epoch once and calls ``on_epoch``."""

    def __init__(self, on_epoch: Callable[[int, int], None] | None) -> None:
        self.on_epoch = on_epoch
        self.logged: set[int] = set()
        self.seconds: list[float] = []

    def __call__(self, trainer: Any) -> None:
        # ultralytics calls it again after the final validation, with the epoch counter moved on
        if trainer.epoch in self.logged or trainer.epoch >= trainer.epochs:
            return
        self.logged.add(trainer.epoch)
        if self.on_epoch is not None:
            self.on_epoch(int(trainer.epoch), int(trainer.epochs))
        self.seconds.append(float(trainer.epoch_time or 0.0))
        left = (trainer.epochs - trainer.epoch - 1) * sum(self.seconds) / len(self.seconds)
        log.info("epoch %d/%d done (%.0f s%s)%s", trainer.epoch + 1, trainer.epochs,
                 trainer.epoch_time, f", about {duration(left)} left" if left > 0 else "",
                 _train_losses(trainer))  # fmt: skip


def _train_losses(trainer: Any) -> str:
    """``; loss box 1.23, seg 2.34, ...``: the epoch's mean training losses (empty where the
    trainer does not give them)."""
    try:
        items = trainer.label_loss_items(trainer.tloss, prefix="train")
    except (AttributeError, TypeError, ValueError):
        return ""
    if not items:
        return ""
    parts = [f"{k.split('/')[-1].removesuffix('_loss')} {float(v):.4f}" for k, v in items.items()]
    return "; loss " + ", ".join(parts)


def _add_callbacks(
    model: Any,
    spec: TrainSpec,
    device: str,
    threads: int,
    backup: Path,
    epoch_log: _EpochLog,
    callbacks: Mapping[str, Callable[[Any], None]] | None,
) -> TimeCap | None:
    """Threads, the CPU speed-ups, the epoch log, the atomic resume copy, the time cap (returned,
    None without one), the checkpoint cadence and the caller's callbacks."""
    from mosaicflow.yolo.cpu_training import CpuTrainingSpeedups, resolve_cpu_precision
    from mosaicflow.yolo.offline import pin_threads

    pin_threads(model, threads)
    if device == "cpu":
        bf16 = resolve_cpu_precision(spec.cpu_precision, device) == "bf16"
        model.add_callback("on_pretrain_routine_end", CpuTrainingSpeedups(bf16=bf16))
    model.add_callback("on_fit_epoch_end", epoch_log)
    model.add_callback("on_model_save", lambda trainer: copy_atomic(Path(trainer.last), backup))
    cap = TimeCap(spec.time_minutes) if spec.time_minutes else None
    if cap is not None:
        model.add_callback("on_train_epoch_end", cap)
    cadence = CheckpointCadence()  # after the cap: an epoch the cap stops is written
    model.add_callback("on_train_epoch_end", cadence.decide)
    model.add_callback("on_model_save", cadence.written)
    for event, callback in (callbacks or {}).items():
        model.add_callback(event, callback)
    return cap


def copy_atomic(src: Path, target: Path) -> None:
    """Copy a file into place atomically."""
    with atomic_path(target) as tmp:
        shutil.copyfile(src, tmp)
