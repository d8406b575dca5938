"""Training budgets in optimizer steps as well as epochs.

``epochs`` alone is no budget for a small set: 12 images at batch 16 are one batch, so 6 epochs
are 6 optimizer steps. Every model therefore also has ``min_steps``: it trains for
``max(epochs, ceil(min_steps / steps_per_epoch))`` epochs, where ``steps_per_epoch`` is
``batches_per_epoch / accumulate`` as ultralytics counts them (``engine/trainer.py``, 8.4):

- ``batches_per_epoch = ceil(images / batch)`` (the train loader keeps the last, partial batch);
- ``accumulate = max(round(nbs / batch), 1)``, capped at the run's ``batches * epochs``: an
  optimizer step every ``accumulate`` batches, counted over the whole run (``last_opt_step``
  carries over epoch ends);
- during the warm-up (``round(min(warmup_epochs, epochs - 1) * batches_per_epoch)`` batches)
  ``accumulate`` ramps from 1 up to that value, so the warm-up steps more often;
- a resumed run starts counting afresh at its first epoch (``last_opt_step = -1``).

:func:`optimizer_steps` replays that count exactly; the model card records the steps taken, the
images seen and why the epochs are what they are (``epochs_from``).

A small set also decides which layers learn: ``freeze: auto`` keeps every layer of a pretrained
model but its head fixed below :data:`FREEZE_BELOW_IMAGES` training images
(:func:`resolve_freeze`; docs/experiments/small-sets.md).

The demo's models are unchanged by the demo defaults (nbs = batch, so a step is a batch): the
region segmenter's 800 training frames at batch 16 are 50 steps an epoch, 300 in 6 epochs
(``regions.min_steps`` 200); the watermark detector's 300 images at batch 16 are 19 an epoch,
152 in 8 (``watermark.min_steps`` 120); the mosaic detector's about 300 images at batch 8 are
38 an epoch, 304 in 8 (``detector.min_steps`` 200: unchanged from 193 images up).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mosaicflow.formats.preflight import FEW_INSTANCES
from mosaicflow.yolo.spec import TrainSpec

#: ``freeze: auto`` trains only the head of a pretrained model that trains on fewer images
#: than this: fine-tuning every layer on a few dozen frames of one source learns that source.
FREEZE_BELOW_IMAGES = 200
#: A trained model with fewer optimizer steps than this gets a warning in its log (as does one
#: trained on fewer than :data:`~mosaicflow.formats.preflight.FEW_INSTANCES` instances).
FEW_STEPS = 100


def loaded_images(images: int, fraction: Any = 1.0) -> int:
    """The training images one epoch loads: ultralytics' ``fraction`` of ``images`` (a ratio or,
    as an int, a count; a list gives the train split's first)."""
    if isinstance(fraction, list | tuple):
        fraction = fraction[0] if fraction else 1.0
    if fraction in (0, 1) and not isinstance(fraction, bool):
        fraction = float(fraction)
    count = fraction if isinstance(fraction, int) else max(1, round(images * float(fraction)))
    return min(int(count), images)


def optimizer_steps(
    batches_per_epoch: int,
    epochs: int,
    accumulate: int,
    warmup_epochs: float,
    *,
    epochs_run: int | None = None,
    resumed_at: int | None = None,
) -> int:
    """Optimizer steps of an ultralytics run, counted as its trainer takes them.

    Args:
        batches_per_epoch: batches of the train loader.
        epochs: the planned epochs (they set the warm-up and the cap on ``accumulate``).
        accumulate: ``max(round(nbs / batch), 1)``, before the cap.
        warmup_epochs: ultralytics' ``warmup_epochs``.
        epochs_run: epochs actually run (fewer when stopped early); None = ``epochs``.
        resumed_at: the epoch (0-based) a resumed run restarted at, or None.

    Returns:
        The number of ``optimizer_step`` calls.
    """
    nb = int(batches_per_epoch)
    total = nb * (epochs if epochs_run is None else epochs_run)
    acc0 = min(max(int(accumulate), 1), max(nb * epochs, 1))
    warm = min(warmup_epochs, max(epochs - 1, 0))
    nw = round(warm * nb) if warm > 0 else 0
    starts = [0] if not resumed_at else [0, nb * resumed_at]
    steps = 0
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else total
        end = min(end, total)
        last = -1
        ni = start
        while ni < end and nw and ni <= nw:  # the warm-up ramp, batch by batch
            acc = max(1, int(np.interp(ni, [0, nw], [1, acc0]).round()))
            if ni - last >= acc:
                steps, last = steps + 1, ni
            ni += 1
        if ni < end:  # then a step every acc0 batches
            first = max(ni, last + acc0)
            if first < end:
                steps += (end - 1 - first) // acc0 + 1
    return steps


@dataclass(frozen=True)
class Budget:
    """How long a model trains, in epochs and in optimizer steps.

    Attributes:
        images: training images one epoch loads (listed images, after ``fraction``).
        batch, nbs: ultralytics' batch and nominal batch.
        batches_per_epoch: ``ceil(images / batch)``.
        accumulate: batches per optimizer step (``max(round(nbs / batch), 1)``).
        warmup_epochs: the warm-up the schedule takes.
        epochs_configured: the config's ``epochs``.
        min_steps: the config's ``min_steps``.
        epochs: the epochs planned: ``max(epochs, ceil(min_steps / steps_per_epoch))``.
        epochs_from: ``"epochs"`` or ``"min_steps"``, whichever set ``epochs``.
        freeze: the layers frozen, ``none``, ``backbone`` or ``head-only`` (``auto`` resolved,
            see :func:`resolve_freeze`).
        spec: the spec to train: ``epochs`` planned, ``min_steps`` folded in (0), ``freeze``
            resolved.
    """

    images: int
    batch: int
    nbs: int
    batches_per_epoch: int
    accumulate: int
    warmup_epochs: float
    epochs_configured: int
    min_steps: int
    epochs: int
    epochs_from: str
    freeze: str
    spec: TrainSpec

    @property
    def steps_per_epoch(self) -> float:
        """Nominal optimizer steps per epoch (``batches_per_epoch / accumulate``)."""
        return self.batches_per_epoch / self.accumulate

    def steps(self, epochs_run: int | None = None, resumed_at: int | None = None) -> int:
        """Optimizer steps of ``epochs_run`` epochs of this plan (None: all of them)."""
        return optimizer_steps(
            self.batches_per_epoch, self.epochs, self.accumulate, self.warmup_epochs,
            epochs_run=epochs_run, resumed_at=resumed_at,
        )  # fmt: skip

    def record(self, epochs_run: int, resumed_at: int | None = None) -> dict[str, Any]:
        """The model card's figures (``training``): steps taken, images seen, the plan."""
        return {
            "steps": self.steps(epochs_run, resumed_at),
            "images_seen": self.images * epochs_run,
            "train_images": self.images,
            "steps_per_epoch": round(self.steps_per_epoch, 3),
            "min_steps": self.min_steps,
            "epochs_configured": self.epochs_configured,
            "epochs_planned": self.epochs,
            "epochs_from": self.epochs_from,
            "freeze": self.freeze,
        }


def plan_budget(spec: TrainSpec, images: int) -> Budget:
    """The epochs that give ``spec`` at least ``spec.min_steps`` optimizer steps on ``images``
    training images (listed ones: a repeated image counts each time).

    Idempotent: the planned spec has ``min_steps`` 0 and plans to itself.

    Raises:
        ValueError: no training image.
    """
    if images < 1:
        raise ValueError("no training image to plan a budget for")
    args = spec.train_args()
    batch, nbs = int(args["batch"]), int(args["nbs"])
    if batch < 1:
        raise ValueError(f"batch must be a positive number of images, got {batch}")
    configured = int(args["epochs"])
    loaded = loaded_images(images, args.get("fraction", 1.0))
    nb = math.ceil(loaded / batch)
    accumulate = max(round(nbs / batch), 1)
    warmup = float(args["warmup_epochs"])
    epochs = max(configured, math.ceil(spec.min_steps * accumulate / nb))
    while optimizer_steps(nb, epochs, accumulate, warmup) < spec.min_steps:  # a rounding guard
        epochs += 1
    overrides = {k: v for k, v in spec.overrides.items() if k != "epochs"}
    freeze = resolve_freeze(spec, loaded)
    planned = dataclasses.replace(
        spec, epochs=epochs, min_steps=0, overrides=overrides, freeze=freeze
    )
    return Budget(
        images=loaded, batch=batch, nbs=nbs, batches_per_epoch=nb, accumulate=accumulate,
        warmup_epochs=warmup, epochs_configured=configured, min_steps=spec.min_steps,
        epochs=epochs, epochs_from="min_steps" if epochs > configured else "epochs",
        freeze=freeze, spec=planned,
    )  # fmt: skip


def resolve_freeze(spec: TrainSpec, images: int) -> str:
    """The spec's ``freeze``, ``auto`` resolved: ``head-only`` for a pretrained model on fewer
    than :data:`FREEZE_BELOW_IMAGES` training images, else ``none`` (a model trained from an
    architecture alone learns every layer)."""
    if spec.freeze != "auto":
        return spec.freeze
    pretrained = spec.weights or spec.pretrained or not spec.model
    return "head-only" if pretrained and images < FREEZE_BELOW_IMAGES else "none"


def budget_warnings(
    model: str, section: str, budget: Budget, steps: int, instances: int, more_data: str
) -> list[str]:
    """What the log says about a model trained on too little: too few optimizer steps
    (< :data:`FEW_STEPS`) or too few labelled instances (< :data:`FEW_INSTANCES`).

    Args:
        model: the model's name.
        section: its config section (named in the advice).
        budget: the plan it trained on.
        steps: optimizer steps taken.
        instances: labelled instances in its training images (as listed).
        more_data: how to give this model more training data (its table entry says).
    """
    warnings, images = [], budget.images
    if steps < FEW_STEPS:
        warnings.append(
            f"{model}: trained only {steps} optimizer steps ({images} training images at "
            f"{section}.batch {budget.batch}, {budget.accumulate} batch(es) a step, "
            f"{budget.epochs} epochs; fewer than {FEW_STEPS}): it has hardly moved from its "
            f"start. {more_data}, raise {section}.min_steps (now {budget.min_steps}) or lower "
            f"{section}.batch"
        )
    if instances < FEW_INSTANCES:
        warnings.append(
            f"{model}: trained on only {instances} labelled instances in {images} training "
            f"images (fewer than {FEW_INSTANCES}): too few examples to find them in other "
            f"footage. {more_data}; meanwhile {section}.min_steps keeps it training "
            f"({steps} steps)"
        )
    return warnings
