"""Shared machinery of the restoration training stages: iteration loop, exact resume, logging.

mmengine is used for what fits a resumable GAN loop: its ``OptimWrapper`` (backward, step,
zero_grad in one call) and its iteration-based parameter schedulers (``CosineAnnealingLR``,
``MultiStepLR``, ``ConstantLR``), whose states go into our checkpoints. Its ``Runner`` /
``IterBasedTrainLoop`` is not used because (a) its resume fast-forwards the dataloader through
every finished iteration, (b) its checkpoints hold no RNG state, so a resumed run is not the
uninterrupted one, and (c) its ``load_checkpoint`` fails on torch >= 2.6 (weights-only pickles).
Our loop is short instead:

- the batch order is a pure function of ``(seed, iteration)`` (:class:`IterationBatchSampler`,
  one permutation per pass over the data from ``numpy.random.default_rng([seed, pass])``), so a
  resumed run starts at its iteration without replaying the data;
- ``last.pt`` in the work folder (written atomically every ``checkpoint_every`` iterations and
  at the end) holds the networks, optimizers, schedulers, iteration, loss/validation history
  and the Python, numpy and torch RNG states; on CPU a killed run that resumes ends with the
  same weights, bit for bit, as one that was never interrupted. (Datasets must draw their own
  randomness from the sample index to keep that property; worker processes are seeded from
  ``(seed, start iteration)``.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from mosaicflow.io import save_torch, write_json
from mosaicflow.restore.metrics import baselines, evaluate_model
from mosaicflow.restore.weights import read_checkpoint

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
LAST = "last.pt"


class TrainingError(RuntimeError):
    """A training run that cannot start or resume (names the file or the setting)."""


class IterationBatchSampler(Sampler[list[int]]):
    """Index batches for iterations ``start .. stop-1``; a pure function of the seed.

    Sample ``k`` of the whole run (``k = iteration * batch_size + j``) is element ``k % n`` of
    the permutation of pass ``k // n``, drawn from ``numpy.random.default_rng([seed, pass])``.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int) -> None:
        if n < 1:
            raise TrainingError("the training dataset is empty")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop = start, stop
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
        return self._perms[epoch]

    def batch(self, iteration: int) -> list[int]:
        """The dataset indices of ``iteration``."""
        first = iteration * self.batch_size
        return [
            int(self._perm(k // self.n)[k % self.n]) for k in range(first, first + self.batch_size)
        ]

    def __iter__(self) -> Iterator[list[int]]:
        for iteration in range(self.start, self.stop):
            yield self.batch(iteration)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def make_loader(
    dataset: Dataset, batch_size: int, seed: int, start: int, stop: int, num_workers: int, pin: bool
) -> DataLoader:
    """DataLoader over iterations ``start .. stop-1`` (see :class:`IterationBatchSampler`)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + start)
    return DataLoader(
        dataset,
        batch_sampler=IterationBatchSampler(len(dataset), batch_size, seed, start, stop),  # type: ignore[arg-type]
        num_workers=num_workers,
        pin_memory=pin,
        generator=generator,
        persistent_workers=False,
        # workers are spawned: forking a process whose threads hold locks (OpenCV, torch,
        # ultralytics) can deadlock a worker
        multiprocessing_context="spawn" if num_workers > 0 else None,
    )


def build_scheduler(optim_wrapper: Any, stage_cfg: Any) -> list[Any]:
    """mmengine iteration-based LR scheduler(s) for ``stage_cfg.schedule`` over its iterations."""
    from mmengine.optim import ConstantLR, CosineAnnealingLR, MultiStepLR

    total = stage_cfg.iterations
    if stage_cfg.schedule == "cosine":
        return [
            CosineAnnealingLR(optim_wrapper, T_max=total, eta_min=stage_cfg.eta_min, by_epoch=False)
        ]
    if stage_cfg.schedule == "step":
        milestones = sorted({max(1, round(f * total)) for f in stage_cfg.step_milestones})
        return [
            MultiStepLR(
                optim_wrapper, milestones=milestones, gamma=stage_cfg.step_gamma, by_epoch=False
            )
        ]
    if stage_cfg.schedule == "constant":
        return [ConstantLR(optim_wrapper, factor=1.0, end=total, by_epoch=False)]
    raise TrainingError(f"unknown learning-rate schedule {stage_cfg.schedule!r}")


def rng_state() -> dict[str, Any]:
    """Python, numpy (global) and torch (CPU and CUDA) RNG states, as weights-only types."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = state["numpy"]
    np.random.set_state((np_state[0], np.asarray(np_state[1], dtype=np.uint32), *np_state[2:]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class ScalarWriter:
    """TensorBoard scalars under ``<work_dir>/tb`` if TensorBoard imports, else JSON lines.

    On resume, TensorBoard events after the resume iteration are purged; the JSON-lines file
    (``<work_dir>/scalars.jsonl``) is appended to (readers keep the last value per step).
    """

    def __init__(self, work_dir: Path, start: int) -> None:
        self._tb = None
        self._file = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(work_dir / "tb"), purge_step=start or None)
        except Exception as exc:  # ImportError, or tensorboard broken
            log.info("TensorBoard unavailable (%s); scalars go to scalars.jsonl", exc)
            self._file = open(work_dir / "scalars.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def add(self, scalars: Mapping[str, float], step: int) -> None:
        """Record ``scalars`` (name -> value) at ``step``."""
        if self._tb is not None:
            for name, value in scalars.items():
                self._tb.add_scalar(name, value, step)
        elif self._file is not None:
            self._file.write(json.dumps({"step": step, **scalars}, sort_keys=True) + "\n")

    def close(self) -> None:
        """Flush and close."""
        if self._tb is not None:
            self._tb.close()
        if self._file is not None:
            self._file.close()


@dataclass
class TrainResult:
    """What a training stage did; ``to_dict()`` is its metrics JSON.

    Attributes:
        stage: ``stage1`` or ``stage2``.
        iterations: iterations trained in total (including before a resume).
        weights: the stage's output weights file.
        losses: mean of each loss term over the last logging window.
        loss_curve: ``{"iter", <loss terms>}`` per logging window.
        validation: ``{"iter", psnr_mask, ssim_mask, psnr, ssim}`` per validation.
        baselines: metrics of the mosaic input and the best blur on the validation set.
        notes: facts the record must show (e.g. the perceptual loss being off).
        resumed_from: the iteration a resume started at, or None for a fresh run.
        config: the stage config as trained.
        data_hash: the caller's hash of the training data (or None).
    """

    stage: str
    iterations: int
    weights: str
    losses: dict[str, float]
    loss_curve: list[dict[str, float]]
    validation: list[dict[str, Any]]
    baselines: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    resumed_from: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    data_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (with a ``version``)."""
        return {"version": 1, **asdict(self)}


def stage_result(
    stage: str,
    iterations: int,
    weights: Path,
    history: History,
    *,
    notes: list[str],
    resumed_from: int | None,
    config: dict[str, Any],
    data_hash: str | None,
    metrics_out: Path | None,
) -> TrainResult:
    """The record of a finished stage from its history; written to ``metrics_out`` if given."""
    last = history.loss_curve[-1] if history.loss_curve else {}
    result = TrainResult(
        stage=stage,
        iterations=iterations,
        weights=str(weights),
        losses={k: v for k, v in last.items() if k != "iter"},
        loss_curve=history.loss_curve,
        validation=history.validation,
        baselines=history.baselines,
        notes=notes,
        resumed_from=resumed_from,
        config=config,
        data_hash=data_hash,
    )
    if metrics_out is not None:
        write_json(metrics_out, result.to_dict())
    return result


@dataclass
class History:
    """Loss and validation history carried through checkpoints."""

    loss_curve: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)
    baselines: dict[str, Any] = field(default_factory=dict)
    window: dict[str, float] = field(default_factory=dict)
    window_n: int = 0

    def add_losses(self, losses: Mapping[str, float]) -> None:
        for name, value in losses.items():
            self.window[name] = self.window.get(name, 0.0) + float(value)
        self.window_n += 1

    def close_window(self, iteration: int) -> dict[str, float]:
        means = {k: v / max(self.window_n, 1) for k, v in sorted(self.window.items())}
        self.loss_curve.append({"iter": iteration, **{k: round(v, 6) for k, v in means.items()}})
        self.window, self.window_n = {}, 0
        return means


def log_every(iterations: int) -> int:
    """Iterations per loss-logging window (about 100 points per run, at least every 1)."""
    return max(1, math.ceil(iterations / 100))


def stage_config_dict(stage_cfg: Any) -> dict[str, Any]:
    """The stage config as a plain JSON dict (tuples as lists)."""
    return json.loads(json.dumps(asdict(stage_cfg)))


def load_last(work_dir: Path, stage: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The checkpoint ``<work_dir>/last.pt`` if there is one; checks stage and config.

    Raises:
        TrainingError: the checkpoint belongs to another stage or config (names the file).
    """
    path = work_dir / LAST
    if not path.is_file():
        return None
    state = read_checkpoint(path)
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise TrainingError(f"{path}: not a mosaicflow training checkpoint (version 1)")
    if state.get("stage") != stage:
        raise TrainingError(f"{path}: checkpoint of {state.get('stage')!r}, not {stage!r}")
    if state.get("config") != dict(config):
        raise TrainingError(
            f"{path}: checkpoint was written with another config; use a fresh work folder"
        )
    return state


def save_last(work_dir: Path, state: Mapping[str, Any]) -> None:
    """Write ``<work_dir>/last.pt`` atomically."""
    save_torch(dict(state), work_dir / LAST)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA when enabled; a no-op elsewhere (CPU stays float32)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def progress(total: int, initial: int, desc: str) -> Any:
    """A tqdm bar (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not sys.stderr.isatty())


def validate(
    network: torch.nn.Module,
    val_set: Dataset | None,
    device: torch.device,
    amp: bool,
) -> dict[str, Any]:
    """Metrics of ``network`` on every sample of ``val_set`` (in order), in eval mode."""
    if val_set is None:
        return {}
    was_training = network.training
    network.eval()

    def restore(lq: torch.Tensor) -> torch.Tensor:
        with autocast(device, amp):
            return network(lq).float().clamp(0, 1)

    with torch.no_grad():
        result = evaluate_model(restore, (val_set[i] for i in range(len(val_set))), device)
    network.train(was_training)
    return result


def val_baselines(val_set: Dataset | None, sigmas: Sequence[float]) -> dict[str, Any]:
    """Baselines (mosaic input, best blur) on the validation set; empty without one."""
    if val_set is None:
        return {}
    return baselines((val_set[i] for i in range(len(val_set))), sigmas)


def write_validation(work_dir: Path, history: History) -> None:
    """``<work_dir>/validation.json``: baselines and every validation so far (atomic)."""
    write_json(
        work_dir / "validation.json",
        {"version": 1, "baselines": history.baselines, "validation": history.validation},
    )


def check_batch(batch: Sequence[torch.Tensor], size: int | None = None) -> None:
    """(lq, gt, mask) batches (N, T, 3, H, W), (N, T, 3, H, W), (N, T, 1, H, W)."""
    if len(batch) != 3:
        raise TrainingError(f"a training sample must be (lq, gt, mask), got {len(batch)} items")
    lq, gt, mask = batch
    if lq.dim() != 5 or lq.shape[2] != 3 or gt.shape != lq.shape:
        raise TrainingError(f"lq {tuple(lq.shape)} / gt {tuple(gt.shape)}: need (N, T, 3, H, W)")
    if mask.shape[:2] != lq.shape[:2] or mask.shape[2] != 1 or mask.shape[3:] != lq.shape[3:]:
        raise TrainingError(f"mask {tuple(mask.shape)} does not fit lq {tuple(lq.shape)}")


def pixel_weight(mask: torch.Tensor, outside: float) -> torch.Tensor | None:
    """Per-pixel loss weight: 1 inside the mask, ``outside`` elsewhere (None when 1)."""
    if outside == 1.0:
        return None
    inside = (mask > 0.5).to(mask.dtype)
    return inside + outside * (1 - inside)


def run_loop(
    *,
    total: int,
    start: int,
    loader: DataLoader,
    step: Callable[[Sequence[torch.Tensor], int], dict[str, float]],
    on_checkpoint: Callable[[int], None],
    on_validate: Callable[[int], None],
    history: History,
    writer: ScalarWriter,
    checkpoint_every: int,
    val_every: int,
    desc: str,
) -> None:
    """Iterations ``start .. total-1``: step, log, validate, checkpoint (in that order)."""
    every = log_every(total)
    if start == 0:
        on_validate(0)  # the starting point of the validation curve
    bar = progress(total, start, desc)
    try:
        for iteration, batch in zip(range(start, total), loader, strict=True):
            losses = step(batch, iteration)
            done = iteration + 1
            history.add_losses(losses)
            if done % every == 0 or done == total:
                means = history.close_window(done)
                writer.add({f"loss/{k}": v for k, v in means.items()}, done)
                bar.set_postfix({k: f"{v:.4f}" for k, v in means.items()})
            if done % val_every == 0 or done == total:
                on_validate(done)
            if done % checkpoint_every == 0 or done == total:
                on_checkpoint(done)
            bar.update(1)
    finally:
        bar.close()
