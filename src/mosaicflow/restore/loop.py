"""One training loop for both restoration stages, over a small stage protocol.

A stage (:class:`TrainingStage`) owns its networks, optimizers and schedules and does one
optimisation step per iteration; :func:`train_stage` does the rest, alike for both: seeding,
resuming from ``last.pt`` (:mod:`~mosaicflow.restore.checkpoint`), the validation baselines,
the iteration-indexed batches (:mod:`~mosaicflow.restore.sampling`), loss logging, validation
and checkpoints (:mod:`~mosaicflow.restore.records`).

mmengine provides what fits a resumable GAN loop: its ``OptimWrapper`` (backward, step,
zero_grad in one call) and its iteration-based parameter schedulers, whose states go into the
checkpoints. Its ``Runner`` / ``IterBasedTrainLoop`` is not used: its resume fast-forwards the
dataloader through every finished iteration, its checkpoints hold no RNG state (a resumed run
would not be the uninterrupted one), and its ``load_checkpoint`` fails on torch >= 2.6
(weights-only pickles).
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mosaicflow.devices import torch_device
from mosaicflow.io import save_torch
from mosaicflow.progress import ProgressLine
from mosaicflow.restore import checkpoint as ckpt
from mosaicflow.restore.errors import TrainingError
from mosaicflow.restore.metrics import baselines, evaluate_model
from mosaicflow.restore.records import (
    History,
    ScalarWriter,
    StageResult,
    log_every,
    stage_result,
    write_validation,
)
from mosaicflow.restore.sampling import check_batch, make_loader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageRun:
    """Where a training stage runs and what it records.

    Attributes:
        train_set: (lq, gt, mask) clips (T, 3, H, W), (T, 3, H, W), (T, 1, H, W), float in
            [0, 1]; indexed by the iteration sampler, so its own randomness should depend only
            on the index for an exact resume.
        val_set: repeatable validation clips of the same form, or None (no validation).
        work_dir: folder for ``last.pt``, scalars and ``validation.json``; an existing
            ``last.pt`` of the same stage and identity is resumed.
        out: the stage's weights, written atomically at the end.
        seed: seed of the initialisation and the sample order.
        device: ``auto``, ``cpu`` or ``cuda:N``.
        metrics_out: optional JSON file for the stage's result.
        data_hash: hash of the training data, recorded in the result.
        sample_weights: one sampling weight per ``train_set`` item (draws with replacement in
            proportion to them); None = shuffled passes over the items.
        num_workers: data-loading worker processes (a speed setting: no part of the identity).
        identity: everything the training depends on (settings, data, seed, start, code):
            :func:`mosaicflow.restore.jobs.run_stage` names the work folder by its hash, and a
            ``last.pt`` written under another identity is refused.
    """

    train_set: Dataset
    val_set: Dataset | None
    work_dir: Path
    out: Path
    seed: int
    device: str | torch.device = "auto"
    metrics_out: Path | None = None
    data_hash: str | None = None
    sample_weights: Sequence[float] | None = None
    num_workers: int = 0
    identity: Mapping[str, Any] = field(default_factory=dict)


class TrainingStage(Protocol):
    """What the loop needs of a stage: one optimisation step, the network to validate, the
    scalars to log and the state to checkpoint."""

    def train_step(
        self, lq: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, iteration: int
    ) -> dict[str, float]:
        """One iteration (optimiser and scheduler steps); returns the loss terms."""
        ...

    def val_network(self) -> torch.nn.Module:
        """The network that validation scores (the one the stage exports)."""
        ...

    def scalars(self) -> dict[str, float]:
        """Scalars logged at each validation (learning rates)."""
        ...

    def state(self) -> dict[str, Any]:
        """``{"models", "optimizers", "schedulers"}`` state dicts for ``last.pt``."""
        ...

    def load_state(self, state: Mapping[str, Any], source: str) -> None:
        """Load what :meth:`state` saved (``source`` names the file in errors)."""
        ...

    def weights(self) -> dict[str, torch.Tensor]:
        """The stage's output: the state dict written to ``run.out`` at the end."""
        ...


def train_stage(
    name: str,
    build: Callable[[torch.device], TrainingStage],
    stage_cfg: Any,
    run: StageRun,
    *,
    config: Mapping[str, Any],
    notes: Sequence[str] = (),
    amp: bool = False,
    blur_sigmas: Sequence[float] = (1.0,),
) -> StageResult:
    """Train (or resume) a stage for ``stage_cfg.iterations`` iterations, write its weights
    (:meth:`TrainingStage.weights`) to ``run.out`` and its record to ``run.metrics_out``.

    The global RNGs are seeded with ``run.seed`` before ``build`` and restored afterwards, so
    the caller's random state is untouched.

    Args:
        name: the stage's name (``stage1``, ``stage2``): recorded in and checked against
            ``last.pt``.
        build: makes the stage on a device (networks, optimizers, schedules, initial weights).
        stage_cfg: the stage's settings (``iterations``, ``batch_size``, ``val_every``,
            ``checkpoint_every``).
        run: data, work folder, seed and device.
        config: what the stage trained with, kept in its record.
        notes: facts the record must show (e.g. the perceptual loss being off).
        amp: bfloat16 autocast on CUDA for validation.
        blur_sigmas: blur sigmas of the validation baseline.

    Returns:
        The stage's record (also written to ``run.metrics_out`` when given).

    Raises:
        TrainingError: empty data or a checkpoint of another stage or identity.
    """
    val_set, seed = run.val_set, run.seed
    dev = torch_device(run.device)
    work_dir = Path(run.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    label = name.replace("stage", "stage ")
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            torch.manual_seed(seed)
            stage = build(dev)
            history, start, resumed = History(), 0, None
            state = ckpt.load_last(work_dir, name, run.identity)
            if state is not None:
                stage.load_state(state, str(work_dir / ckpt.LAST))
                history = History(**state["history"])
                start = resumed = int(state["iteration"])
                ckpt.set_rng_state(state["rng"])
                log.info("%s: resuming %s at iteration %d", label, work_dir / ckpt.LAST, start)
            if start == 0 and not history.baselines:
                history.baselines = val_baselines(val_set, blur_sigmas)
                log.info("%s: validation baselines %s", label, history.baselines)
            _iterate(
                name, stage, stage_cfg, history, run, dev,
                start=start, amp=amp,
            )  # fmt: skip
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
    save_torch(stage.weights(), run.out)
    return stage_result(
        name, stage_cfg.iterations, run.out, history, notes=list(notes), resumed_from=resumed,
        config=dict(config), data_hash=run.data_hash, metrics_out=run.metrics_out,
    )  # fmt: skip


def _iterate(
    name: str,
    stage: TrainingStage,
    stage_cfg: Any,
    history: History,
    run: StageRun,
    dev: torch.device,
    *,
    start: int,
    amp: bool,
) -> None:
    """Iterations ``start ..`` of a stage on ``run``'s data, with validation and checkpoints in
    its work folder."""
    label = name.replace("stage", "stage ")
    val_set, work_dir = run.val_set, Path(run.work_dir)
    writer = ScalarWriter(work_dir, start)
    loader = make_loader(run.train_set, stage_cfg.batch_size, run.seed, start,
                         stage_cfg.iterations, run.num_workers, dev.type == "cuda",
                         run.sample_weights)  # fmt: skip

    def step(batch: Sequence[torch.Tensor], iteration: int) -> dict[str, float]:
        check_batch(batch)
        lq, gt, mask = (x.to(dev, non_blocking=True) for x in batch)
        return stage.train_step(lq, gt, mask, iteration)

    def on_validate(done: int) -> None:
        if val_set is None:
            return
        metrics = validate(stage.val_network(), val_set, dev, amp)
        history.validation.append({"iter": done, **metrics})
        writer.add({f"val/{k}": v for k, v in metrics.items() if v is not None}, done)
        writer.add(stage.scalars(), done)
        write_validation(work_dir, history)
        log.info("%s iteration %d: %s", label, done, metrics)

    def on_checkpoint(done: int) -> None:
        ckpt.save_last(
            work_dir,
            {
                "version": ckpt.CHECKPOINT_VERSION,
                "stage": name,
                "identity": dict(run.identity),
                "iteration": done,
                **stage.state(),
                "history": history.__dict__,
                "rng": ckpt.rng_state(),
            },
        )

    try:
        run_loop(
            total=stage_cfg.iterations, start=start, loader=loader, step=step,
            on_checkpoint=on_checkpoint, on_validate=on_validate, history=history, writer=writer,
            checkpoint_every=stage_cfg.checkpoint_every, val_every=stage_cfg.val_every,
            desc=label,
        )  # fmt: skip
    finally:
        writer.close()


def val_baselines(val_set: Dataset | None, sigmas: Sequence[float]) -> dict[str, Any]:
    """Baselines (mosaic input, best blur) on the validation set; empty without one."""
    if val_set is None:
        return {}
    return baselines((val_set[i] for i in range(len(val_set))), sigmas)


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
    line = ProgressLine(log, desc, total, start=start)  # the job's log: a line a minute
    losses_text = ""
    try:
        for iteration, batch in zip(range(start, total), loader, strict=True):
            losses = step(batch, iteration)
            done = iteration + 1
            history.add_losses(losses)
            if done % every == 0 or done == total:
                means = history.close_window(done)
                writer.add({f"loss/{k}": v for k, v in means.items()}, done)
                bar.set_postfix({k: f"{v:.4f}" for k, v in means.items()})
                losses_text = "loss " + ", ".join(f"{k} {v:.4f}" for k, v in means.items())
            line.at(done, losses_text)
            if done % val_every == 0 or done == total:
                on_validate(done)
            if done % checkpoint_every == 0 or done == total:
                on_checkpoint(done)
            bar.update(1)
    finally:
        bar.close()
        line.close(losses_text)
