"""Stage 1 of the restoration training: BasicVSR++ with a pixel loss only (Charbonnier or MSE).

Adam (betas from the config, 0.9/0.99), SPyNet at ``lr x spynet_lr_mult`` and frozen for the
first ``fix_iter`` iterations, an iteration-based cosine/step/constant schedule (mmengine
schedulers on an mmengine ``OptimWrapper``); the loop, validation and resumable checkpoints are
:func:`mosaicflow.restore.loop.train_stage`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from mosaicflow.provenance import file_hash
from mosaicflow.restore.checkpoint import stage_config_dict
from mosaicflow.restore.config import Stage1Job
from mosaicflow.restore.errors import TrainingError
from mosaicflow.restore.loop import StageRun, autocast, build_scheduler, train_stage
from mosaicflow.restore.losses import pixel_loss, pixel_weight
from mosaicflow.restore.records import StageResult

log = logging.getLogger(__name__)


def _optim_wrapper(model: torch.nn.Module, lr: float, spynet_mult: float, betas: Sequence[float]):
    from mmengine.optim import OptimWrapper

    spynet = [p for n, p in model.named_parameters() if n.startswith("spynet.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("spynet.")]
    groups: list[dict[str, Any]] = [{"params": rest}]
    if spynet:
        groups.append({"params": spynet, "lr": lr * spynet_mult})
    return OptimWrapper(torch.optim.Adam(groups, lr=lr, betas=tuple(betas)))


class Stage1:
    """The stage-1 generator, its optimiser and schedule (a
    :class:`~mosaicflow.restore.loop.TrainingStage`): one pixel-loss step per iteration.

    Args:
        job: the stage's job (``job.stage1`` holds the training settings).
        device: where the generator trains.
    """

    def __init__(self, job: Stage1Job, device: torch.device) -> None:
        from mosaicflow.restore.models import build_generator

        self.s, self.device, self.amp = job.stage1, device, bool(job.amp)
        generator = build_generator(
            job, init_weights=job.init_weights, spynet_weights=job.spynet_weights
        )
        self.model = generator.to(device)
        if device.type == "cuda" and self.amp:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optim = _optim_wrapper(self.model, self.s.lr, self.s.spynet_lr_mult, self.s.betas)
        self.schedulers = build_scheduler(self.optim, self.s)
        self.loss_fn = pixel_loss(self.s.pixel_loss)
        self.model.train()

    def train_step(
        self, lq: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, iteration: int
    ) -> dict[str, float]:
        """One Adam step on the pixel loss (SPyNet frozen before ``fix_iter``)."""
        self.model.spynet.requires_grad_(iteration >= self.s.fix_iter)
        with autocast(self.device, self.amp):
            pred = self.model(lq)
        loss = self.loss_fn(pred.float(), gt, pixel_weight(mask, self.s.outside_weight))
        self.optim.update_params(loss)
        for sched in self.schedulers:
            sched.step()
        value = float(loss.detach())
        if not np.isfinite(value):
            raise TrainingError(f"stage 1: non-finite loss {value} at iteration {iteration}")
        return {"pixel": value}

    def val_network(self) -> torch.nn.Module:
        """The generator."""
        return self.model

    def scalars(self) -> dict[str, float]:
        """The generator's learning rate."""
        return {"lr": self.optim.get_lr()["lr"][0]}

    def state(self) -> dict[str, Any]:
        """Generator, optimiser and schedule states."""
        return {
            "models": {"generator": self.model.state_dict()},
            "optimizers": {"generator": self.optim.state_dict()},
            "schedulers": {"generator": [sc.state_dict() for sc in self.schedulers]},
        }

    def load_state(self, state: Mapping[str, Any], source: str) -> None:
        """Load :meth:`state`'s output."""
        self.model.load_state_dict(state["models"]["generator"], strict=True)
        self.optim.load_state_dict(state["optimizers"]["generator"])
        for sched, sd in zip(self.schedulers, state["schedulers"]["generator"], strict=True):
            sched.load_state_dict(sd)

    def weights(self) -> dict[str, torch.Tensor]:
        """The generator's state dict (reference key layout)."""
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}


def train_stage1(job: Stage1Job, run: StageRun) -> StageResult:
    """Train (or resume training) the stage-1 generator; write its weights.

    Args:
        job: the stage's job (``job.stage1`` holds the training settings).
        run: the clips, work folder (an existing ``last.pt`` of the same stage and config is
            resumed), output (the generator's state dict, reference key layout), seed and device.

    Returns:
        The :class:`~mosaicflow.restore.records.StageResult` of the stage.

    Raises:
        TrainingError: empty data or a checkpoint of another config.
    """
    s = job.stage1
    config = {
        "stage": stage_config_dict(s),
        "model": [job.mid_channels, job.num_blocks, job.hr_skip, job.spynet_weights],
        "seed": run.seed,
    }
    if job.init_weights:  # the start's bytes, not its path: other weights retrain the stage
        config["init"] = {"sha256": file_hash(job.init_weights)}
    return train_stage(
        "stage1", lambda dev: Stage1(job, dev), s, run,
        config=config, amp=bool(job.amp), blur_sigmas=job.blur_sigmas or (1.0,),
    )  # fmt: skip
