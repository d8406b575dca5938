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
is not a perceptual loss. The log warns and the result's ``notes`` record it. Validation
scores the EMA generator (the one that is exported).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mosaicflow.devices import torch_device
from mosaicflow.io import save_torch
from mosaicflow.restore import trainer as T
from mosaicflow.restore.config import RestorationConfig
from mosaicflow.restore.ema import ema_update
from mosaicflow.restore.export import join_stage2, split_stage2
from mosaicflow.restore.losses import GANLoss, pixel_loss
from mosaicflow.restore.weights import _check_and_load, read_checkpoint

log = logging.getLogger(__name__)

PERCEPTUAL_OFF = (
    "perceptual loss OFF: restoration.vgg19_weights is not set (stage 2 trained with the "
    "pixel and GAN losses only)"
)


class Stage2Model(torch.nn.Module):
    """The three networks of stage 2 and their losses; ``step`` does one training iteration.

    Args:
        cfg: the restoration config (``cfg.stage2`` holds the loss weights and rates).
        perceptual: the perceptual loss module (VGG19 loaded), or None when it is off.
    """

    def __init__(self, cfg: RestorationConfig, perceptual: torch.nn.Module | None) -> None:
        super().__init__()
        from mmengine.optim import OptimWrapper

        from mosaicflow.restore.models import build_discriminator, build_generator

        s = cfg.stage2
        assert s is not None
        self.s = s
        self.generator = build_generator(cfg, load_weights=False)
        self.generator_ema = build_generator(cfg, load_weights=False)
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

    def load_parts(self, parts: dict[str, dict[str, torch.Tensor]], source: str) -> None:
        """Load ``generator``/``generator_ema``/``discriminator`` state dicts strictly."""
        for name in ("generator", "generator_ema", "discriminator"):
            _check_and_load(getattr(self, name), parts[name], source)

    def parts(self) -> dict[str, dict[str, torch.Tensor]]:
        """State dicts of the three networks."""
        return {
            name: getattr(self, name).state_dict()
            for name in ("generator", "generator_ema", "discriminator")
        }

    def step(
        self, lq: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, amp: bool = False
    ) -> dict[str, float]:
        """One iteration: generator step, discriminator step, EMA update; returns the losses."""
        s, dev = self.s, lq.device
        self.generator.train()
        self.discriminator.train()
        # -- generator --
        self.discriminator.requires_grad_(False)
        with T.autocast(dev, amp):
            fake = self.generator(lq)
        fake = fake.float()
        losses: dict[str, torch.Tensor] = {}
        losses["pixel"] = self.pixel(fake, gt, T.pixel_weight(mask, s.outside_weight))
        if self.perceptual is not None:
            with T.autocast(dev, amp):
                losses["perceptual"] = self.perceptual(fake, gt).float()
        with T.autocast(dev, amp):
            fake_logits = self.discriminator(fake.flatten(0, 1))
        losses["gan"] = self.gan(fake_logits.float(), True)
        g_total = sum(losses.values())
        self.g_optim.update_params(g_total)
        # -- discriminator --
        self.discriminator.requires_grad_(True)
        with T.autocast(dev, amp):
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
            raise T.TrainingError(f"stage 2: non-finite losses {bad}")
        return out


def build_perceptual(cfg: RestorationConfig) -> tuple[torch.nn.Module | None, list[str]]:
    """The perceptual loss with ``cfg.vgg19_weights`` loaded, or (None, [note]) when it is off."""
    s = cfg.stage2
    assert s is not None
    if s.perceptual_weight == 0:
        return None, ["perceptual loss off: restoration.stage2.perceptual_weight is 0"]
    if cfg.vgg19_weights is None:
        log.warning("!!! %s !!!", PERCEPTUAL_OFF)
        return None, [PERCEPTUAL_OFF]
    from mosaicflow.restore.losses import PerceptualLoss

    loss = PerceptualLoss(perceptual_weight=s.perceptual_weight)
    loss.load_vgg19(Path(cfg.vgg19_weights))
    return loss, [f"perceptual loss on: VGG19 from {Path(cfg.vgg19_weights).name}"]


def train_stage2(
    cfg: RestorationConfig,
    init: Path,
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
    """Train (or resume training) stage 2 from the converted stage-1 model; write all three nets.

    Args:
        cfg: the restoration config (``cfg.stage2`` holds the training settings).
        init: the output of :func:`mosaicflow.restore.export.convert`.
        train_set: (lq, gt, mask) clips as in :func:`mosaicflow.restore.stage1.train_stage1`.
        val_set: validation clips, or None.
        work_dir: folder for ``last.pt`` etc.; an existing checkpoint of the same config resumes.
        out: stage-2 weights in the published prefixed layout (``generator.``,
            ``generator_ema.``, ``discriminator.``), written atomically.
        seed: seed of the sample order.
        device: ``auto``, ``cpu`` or ``cuda:N``.
        metrics_out: optional JSON file for :meth:`TrainResult.to_dict`.
        data_hash: hash of the training data, recorded in the result.

    Returns:
        The :class:`~mosaicflow.restore.trainer.TrainResult` (``notes`` say whether the
        perceptual loss was on).
    """
    s = cfg.stage2
    if s is None:
        raise T.TrainingError("restoration.stage2 is not configured")
    dev = torch_device(device)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    perceptual, notes = build_perceptual(cfg)
    config = {
        "stage": T.stage_config_dict(s),
        "model": [cfg.mid_channels, cfg.num_blocks, cfg.hr_skip],
        "perceptual": notes,
        "init": str(Path(init).name),
        "seed": seed,
    }
    devices = [dev.index or 0] if dev.type == "cuda" else []
    amp = bool(cfg.amp)
    with torch.random.fork_rng(devices=devices):
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            torch.manual_seed(seed)
            model = Stage2Model(cfg, perceptual)
            state = T.load_last(work_dir, "stage2", config)
            history, start, resumed = T.History(), 0, None
            if state is None:
                model.load_parts(split_stage2(read_checkpoint(init), str(init)), str(init))
            else:
                model.load_parts(state["models"], str(work_dir / T.LAST))
            model.to(dev)
            if dev.type == "cuda" and amp:
                model.to(memory_format=torch.channels_last)
            schedulers = T.build_scheduler(model.g_optim, s) + T.build_scheduler(model.d_optim, s)
            if state is not None:
                model.g_optim.load_state_dict(state["optimizers"]["generator"])
                model.d_optim.load_state_dict(state["optimizers"]["discriminator"])
                for sched, sd in zip(schedulers, state["schedulers"], strict=True):
                    sched.load_state_dict(sd)
                history = T.History(**state["history"])
                start = resumed = int(state["iteration"])
                T.set_rng_state(state["rng"])
                log.info("stage 2: resuming %s at iteration %d", work_dir / T.LAST, start)
            if start == 0 and not history.baselines:
                history.baselines = T.val_baselines(val_set, cfg.blur_sigmas or (1.0,))
            _run(
                cfg,
                model,
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

    save_torch(join_stage2(model.parts()), out)
    return T.stage_result(
        "stage2",
        s.iterations,
        out,
        history,
        notes=notes,
        resumed_from=resumed,
        config=config,
        data_hash=data_hash,
        metrics_out=metrics_out,
    )


def _run(
    cfg: RestorationConfig,
    model: Stage2Model,
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
    """Iterations ``start ..`` of stage 2 with validation (EMA generator) and checkpoints."""
    assert cfg.stage2 is not None
    s = cfg.stage2
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

    def step(batch, iteration: int) -> dict[str, float]:
        T.check_batch(batch)
        lq, gt, mask = (x.to(dev, non_blocking=True) for x in batch)
        losses = model.step(lq, gt, mask, amp)
        for sched in schedulers:
            sched.step()
        return losses

    def on_validate(done: int) -> None:
        if val_set is None:
            return
        metrics = T.validate(model.generator_ema, val_set, dev, amp)
        history.validation.append({"iter": done, **metrics})
        writer.add({f"val/{k}": v for k, v in metrics.items() if v is not None}, done)
        T.write_validation(work_dir, history)
        log.info("stage 2 iteration %d (EMA generator): %s", done, metrics)

    def on_checkpoint(done: int) -> None:
        state: dict[str, Any] = {
            "version": T.CHECKPOINT_VERSION,
            "stage": "stage2",
            "config": config,
            "iteration": done,
            "models": model.parts(),
            "optimizers": {
                "generator": model.g_optim.state_dict(),
                "discriminator": model.d_optim.state_dict(),
            },
            "schedulers": [sc.state_dict() for sc in schedulers],
            "history": history.__dict__,
            "rng": T.rng_state(),
        }
        T.save_last(work_dir, state)

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
            desc="stage 2",
        )
    finally:
        writer.close()
