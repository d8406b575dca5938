"""Stage 2 of the restoration training: GAN fine-tuning with a perceptual loss and an EMA copy.

Per iteration (as in the published recipe):

1. generator step, discriminator frozen (``requires_grad_(False)``, so the generator's GAN
   loss gives it no gradient): ``pixel_weight`` x pixel loss + perceptual (VGG19 layers
   2/7/16/25/34 weighted 0.1/0.1/1/1/1, x ``perceptual_weight``) + ``gan_weight`` x vanilla
   GAN loss of the fakes labelled real; Adam at ``lr``; SPyNet frozen throughout;
2. discriminator step on real frames and on the *detached* fakes (no gradient reaches the
   generator); Adam at ``disc_lr``;
3. EMA: ``ema = (1 - m) * ema + m * generator`` (:func:`mosaicflow.restore.ema.ema_update`).

Without ``restoration.vgg19_weights`` the perceptual term is off: a randomly initialised VGG19
is not a perceptual loss. The log warns and the result's ``notes`` record it
(:func:`mosaicflow.restore.models.build_perceptual_loss`). Validation scores the EMA generator
(the one that is exported).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mosaicflow.restore.checkpoint import stage_config_dict
from mosaicflow.restore.config import Stage2Job
from mosaicflow.restore.ema import ema_update
from mosaicflow.restore.errors import TrainingError
from mosaicflow.restore.export import join_stage2, split_stage2
from mosaicflow.restore.loop import StageRun, autocast, build_scheduler, train_stage
from mosaicflow.restore.losses import GANLoss, pixel_loss, pixel_weight
from mosaicflow.restore.records import StageResult
from mosaicflow.restore.weights import load_strict, read_checkpoint


class Stage2Model(torch.nn.Module):
    """The three networks of stage 2, their losses, optimisers and schedules (a
    :class:`~mosaicflow.restore.loop.TrainingStage`); ``step`` does one training iteration.

    Args:
        job: the stage's job (``job.stage2`` holds the loss weights and rates).
        perceptual: the perceptual loss module (VGG19 loaded), or None when it is off.
    """

    def __init__(self, job: Stage2Job, perceptual: torch.nn.Module | None) -> None:
        super().__init__()
        from mmengine.optim import OptimWrapper

        from mosaicflow.restore.models import build_discriminator, build_generator

        s = job.stage2
        self.s, self.amp = s, bool(job.amp)
        self.generator = build_generator(job)
        self.generator_ema = build_generator(job)
        self.discriminator = build_discriminator(s.disc_mid_channels)
        self.generator.spynet.requires_grad_(False)
        self.generator_ema.requires_grad_(False)
        self.pixel = pixel_loss(s.pixel_loss, loss_weight=s.pixel_weight)
        self.gan = GANLoss(loss_weight=s.gan_weight)
        self.perceptual = perceptual
        gen_params = [
            p for n, p in self.generator.named_parameters() if not n.startswith("spynet.")
        ]
        self.g_optim = OptimWrapper(torch.optim.Adam(gen_params, lr=s.lr, betas=tuple(s.betas)))
        self.d_optim = OptimWrapper(
            torch.optim.Adam(self.discriminator.parameters(), lr=s.disc_lr, betas=tuple(s.betas))
        )
        self.schedulers = {
            "generator": build_scheduler(self.g_optim, s),
            "discriminator": build_scheduler(self.d_optim, s),
        }

    def load_parts(self, parts: dict[str, dict[str, torch.Tensor]], source: str) -> None:
        """Load ``generator``/``generator_ema``/``discriminator`` state dicts strictly."""
        for name in ("generator", "generator_ema", "discriminator"):
            load_strict(getattr(self, name), parts[name], source)

    def parts(self) -> dict[str, dict[str, torch.Tensor]]:
        """State dicts of the three networks."""
        return {
            name: getattr(self, name).state_dict()
            for name in ("generator", "generator_ema", "discriminator")
        }

    def weights(self) -> dict[str, torch.Tensor]:
        """The three networks in the published prefixed layout (``generator.``,
        ``generator_ema.``, ``discriminator.``)."""
        return join_stage2(self.parts())

    def step(
        self, lq: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, amp: bool = False
    ) -> dict[str, float]:
        """One iteration: generator step, discriminator step, EMA update; returns the losses."""
        s, dev = self.s, lq.device
        self.generator.train()
        self.discriminator.train()
        # -- generator --
        self.discriminator.requires_grad_(False)
        with autocast(dev, amp):
            fake = self.generator(lq)
        fake = fake.float()
        losses: dict[str, torch.Tensor] = {}
        losses["pixel"] = self.pixel(fake, gt, pixel_weight(mask, s.outside_weight))
        if self.perceptual is not None:
            with autocast(dev, amp):
                losses["perceptual"] = self.perceptual(fake, gt).float()
        with autocast(dev, amp):
            fake_logits = self.discriminator(fake.flatten(0, 1))
        losses["gan"] = self.gan(fake_logits.float(), True)
        g_total = sum(losses.values())
        self.g_optim.update_params(g_total)
        # -- discriminator --
        self.discriminator.requires_grad_(True)
        with autocast(dev, amp):
            real_logits = self.discriminator(gt.flatten(0, 1))
            fake_logits = self.discriminator(fake.detach().flatten(0, 1))
        d_real = self.gan(real_logits.float(), True, is_disc=True)
        d_fake = self.gan(fake_logits.float(), False, is_disc=True)
        self.d_optim.update_params(d_real + d_fake)
        # -- EMA --
        ema_update(self.generator_ema, self.generator, s.ema_momentum)
        out = {k: float(v.detach()) for k, v in losses.items()}
        out |= {
            "g_total": float(g_total.detach()),
            "d_real": float(d_real.detach()),
            "d_fake": float(d_fake.detach()),
        }
        bad = {k: v for k, v in out.items() if not np.isfinite(v)}
        if bad:
            raise TrainingError(f"stage 2: non-finite losses {bad}")
        return out

    def train_step(
        self, lq: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, iteration: int
    ) -> dict[str, float]:
        """:meth:`step`, then one step of both schedules."""
        losses = self.step(lq, gt, mask, self.amp)
        for schedulers in self.schedulers.values():
            for sched in schedulers:
                sched.step()
        return losses

    def val_network(self) -> torch.nn.Module:
        """The EMA generator (the one that is exported)."""
        return self.generator_ema

    def scalars(self) -> dict[str, float]:
        """The generator's and the discriminator's learning rates."""
        return {"lr": self.g_optim.get_lr()["lr"][0], "disc_lr": self.d_optim.get_lr()["lr"][0]}

    def state(self) -> dict[str, Any]:
        """Network, optimiser and schedule states."""
        return {
            "models": self.parts(),
            "optimizers": {
                "generator": self.g_optim.state_dict(),
                "discriminator": self.d_optim.state_dict(),
            },
            "schedulers": {
                name: [sc.state_dict() for sc in schedulers]
                for name, schedulers in self.schedulers.items()
            },
        }

    def load_state(self, state: Mapping[str, Any], source: str) -> None:
        """Load :meth:`state`'s output."""
        self.load_parts(state["models"], source)
        self.g_optim.load_state_dict(state["optimizers"]["generator"])
        self.d_optim.load_state_dict(state["optimizers"]["discriminator"])
        for name, schedulers in self.schedulers.items():
            for sched, sd in zip(schedulers, state["schedulers"][name], strict=True):
                sched.load_state_dict(sd)


def train_stage2(job: Stage2Job, init: Path, run: StageRun) -> StageResult:
    """Train (or resume training) stage 2 from the converted stage-1 model; write all three nets.

    Args:
        job: the stage's job (``job.stage2`` holds the training settings).
        init: the output of :func:`mosaicflow.restore.export.convert`.
        run: the clips, work folder (an existing ``last.pt`` of the same config resumes), output
            (the published prefixed layout: ``generator.``, ``generator_ema.``,
            ``discriminator.``), seed and device.

    Returns:
        The :class:`~mosaicflow.restore.records.StageResult` (``notes`` say whether the
        perceptual loss was on).
    """
    from mosaicflow.restore.models import build_perceptual_loss

    s = job.stage2
    perceptual, notes = build_perceptual_loss(job)
    config = {
        "stage": stage_config_dict(s),
        "model": [job.mid_channels, job.num_blocks, job.hr_skip],
        "perceptual": notes,
        "init": str(Path(init).name),
        "seed": run.seed,
    }

    def build(dev: torch.device) -> Stage2Model:
        model = Stage2Model(job, perceptual)
        model.load_parts(split_stage2(read_checkpoint(init), str(init)), str(init))
        model.to(dev)
        if dev.type == "cuda" and job.amp:
            model.to(memory_format=torch.channels_last)
        return model

    return train_stage(
        "stage2", build, s, run,
        config=config, notes=notes, amp=bool(job.amp), blur_sigmas=job.blur_sigmas or (1.0,),
    )  # fmt: skip
