"""Stage 1 of the restoration training: BasicVSR++ with a pixel loss only (Charbonnier or MSE).

Adam (betas from the config, 0.9/0.99), SPyNet at ``lr x spynet_lr_mult`` and frozen for the
first ``fix_iter`` iterations, an iteration-based cosine/step/constant schedule (mmengine
schedulers on an mmengine ``OptimWrapper``), validation every ``val_every`` iterations and a
resumable checkpoint every ``checkpoint_every`` (see :mod:`mosaicflow.restore.trainer`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mosaicflow.devices import torch_device
from mosaicflow.io import save_torch
from mosaicflow.restore import trainer as T
from mosaicflow.restore.config import RestorationConfig
from mosaicflow.restore.losses import pixel_loss

log = logging.getLogger(__name__)


def _optim_wrapper(model: torch.nn.Module, lr: float, spynet_mult: float, betas: Sequence[float]):
    from mmengine.optim import OptimWrapper

    spynet = [p for n, p in model.named_parameters() if n.startswith("spynet.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("spynet.")]
    groups: list[dict[str, Any]] = [{"params": rest}]
    if spynet:
        groups.append({"params": spynet, "lr": lr * spynet_mult})
    return OptimWrapper(torch.optim.Adam(groups, lr=lr, betas=tuple(betas)))


def train_stage1(
    cfg: RestorationConfig,
    train_set: Dataset,
    val_set: Dataset | None,
    work_dir: Path,
    out: Path,
    *,
    seed: int,
    device: str | torch.device = "auto",
    metrics_out: Path | None = None,
    data_hash: str | None = None,
) -> T.TrainResult:
    """Train (or resume training) the stage-1 generator; write its weights.

    Args:
        cfg: the restoration config (``cfg.stage1`` holds the training settings).
        train_set: dataset of (lq, gt, mask) clips (T, 3, H, W), (T, 3, H, W), (T, 1, H, W),
            float in [0, 1]; indexed by the iteration sampler, so its own randomness should
            depend only on the index for an exact resume.
        val_set: repeatable validation clips of the same form, or None (no validation).
        work_dir: folder for ``last.pt``, scalars and ``validation.json``; an existing
            ``last.pt`` of the same stage and config is resumed.
        out: the generator's state dict (reference key layout, plain), written atomically.
        seed: seed of the initialisation and the sample order.
        device: ``auto``, ``cpu`` or ``cuda:N``.
        metrics_out: optional JSON file for :meth:`TrainResult.to_dict`.
        data_hash: hash of the training data, recorded in the result.

    Returns:
        The :class:`~mosaicflow.restore.trainer.TrainResult` of the stage.

    Raises:
        TrainingError: missing stage config, empty data or a checkpoint of another config.
    """
    from mosaicflow.restore.models import build_generator

    s = cfg.stage1
    if s is None:
        raise T.TrainingError("restoration.stage1 is not configured")
    dev = torch_device(device)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "stage": T.stage_config_dict(s),
        "model": [cfg.mid_channels, cfg.num_blocks, cfg.hr_skip, cfg.spynet_weights],
        "seed": seed,
    }
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            torch.manual_seed(seed)
            model = build_generator(cfg).to(dev)
            if dev.type == "cuda" and cfg.amp:
                model = model.to(memory_format=torch.channels_last)
            optim = _optim_wrapper(model, s.lr, s.spynet_lr_mult, s.betas)
            schedulers = T.build_scheduler(optim, s)
            history = T.History()
            start, resumed = 0, None
            state = T.load_last(work_dir, "stage1", config)
            if state is not None:
                model.load_state_dict(state["models"]["generator"], strict=True)
                optim.load_state_dict(state["optimizers"]["generator"])
                for sched, sd in zip(schedulers, state["schedulers"]["generator"], strict=True):
                    sched.load_state_dict(sd)
                history = T.History(**state["history"])
                start = resumed = int(state["iteration"])
                T.set_rng_state(state["rng"])
                log.info("stage 1: resuming %s at iteration %d", work_dir / T.LAST, start)
            if start == 0 and not history.baselines:
                history.baselines = T.val_baselines(val_set, cfg.blur_sigmas or (1.0,))
                log.info("stage 1: validation baselines %s", history.baselines)
            _run(
                cfg,
                model,
                optim,
                schedulers,
                history,
                train_set,
                val_set,
                work_dir,
                dev,
                seed,
                start,
                config,
            )
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)

    save_torch({k: v.detach().cpu() for k, v in model.state_dict().items()}, out)
    return T.stage_result(
        "stage1",
        s.iterations,
        out,
        history,
        notes=[],
        resumed_from=resumed,
        config=config,
        data_hash=data_hash,
        metrics_out=metrics_out,
    )


def _run(
    cfg: RestorationConfig,
    model: torch.nn.Module,
    optim: Any,
    schedulers: list[Any],
    history: T.History,
    train_set: Dataset,
    val_set: Dataset | None,
    work_dir: Path,
    dev: torch.device,
    seed: int,
    start: int,
    config: dict[str, Any],
) -> None:
    """Iterations ``start ..`` of stage 1 with validation and checkpoints."""
    assert cfg.stage1 is not None
    s = cfg.stage1
    loss_fn = pixel_loss(s.pixel_loss)
    amp = bool(cfg.amp)
    writer = T.ScalarWriter(work_dir, start)
    loader = T.make_loader(
        train_set,
        s.batch_size,
        seed,
        start,
        s.iterations,
        cfg.num_workers or 0,
        dev.type == "cuda",
    )
    model.train()

    def step(batch, iteration: int) -> dict[str, float]:
        T.check_batch(batch)
        lq, gt, mask = (x.to(dev, non_blocking=True) for x in batch)
        model.spynet.requires_grad_(iteration >= s.fix_iter)
        with T.autocast(dev, amp):
            pred = model(lq)
        loss = loss_fn(pred.float(), gt, T.pixel_weight(mask, s.outside_weight))
        optim.update_params(loss)
        for sched in schedulers:
            sched.step()
        value = float(loss.detach())
        if not np.isfinite(value):
            raise T.TrainingError(f"stage 1: non-finite loss {value} at iteration {iteration}")
        return {"pixel": value}

    def on_validate(done: int) -> None:
        if val_set is None:
            return
        metrics = T.validate(model, val_set, dev, amp)
        history.validation.append({"iter": done, **metrics})
        writer.add({f"val/{k}": v for k, v in metrics.items() if v is not None}, done)
        writer.add({"lr": optim.get_lr()["lr"][0]}, done)
        T.write_validation(work_dir, history)
        log.info("stage 1 iteration %d: %s", done, metrics)

    def on_checkpoint(done: int) -> None:
        T.save_last(
            work_dir,
            {
                "version": T.CHECKPOINT_VERSION,
                "stage": "stage1",
                "config": config,
                "iteration": done,
                "models": {"generator": model.state_dict()},
                "optimizers": {"generator": optim.state_dict()},
                "schedulers": {"generator": [sc.state_dict() for sc in schedulers]},
                "history": history.__dict__,
                "rng": T.rng_state(),
            },
        )

    try:
        T.run_loop(
            total=s.iterations,
            start=start,
            loader=loader,
            step=step,
            on_checkpoint=on_checkpoint,
            on_validate=on_validate,
            history=history,
            writer=writer,
            checkpoint_every=s.checkpoint_every,
            val_every=s.val_every,
            desc="stage 1",
        )
    finally:
        writer.close()
