"""The training spec of a YOLO model: what one ``YOLO(...).train(...)`` run needs.

Budgets count work, never the clock: a model trains for ``epochs``, and for at least
``min_steps`` optimizer steps (:mod:`mosaicflow.yolo.budget` turns a small set's steps into
more epochs), with the optimizer and learning rate the config names (never ultralytics'
``auto``, which picks MuSGD or AdamW from the planned iteration count), so the same config
trains the same model on any machine. An opt-in wall-clock cap (``time_minutes``) ends
training after the epoch that crosses it, without changing the schedule (see
:class:`mosaicflow.yolo.fit.TimeCap`).

CPU settings: ``nbs = batch`` (every batch an optimizer step; ultralytics' default ``nbs=64``
accumulates 4 batches of 16 per step), short warm-up, no per-epoch validation.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: What ``freeze`` may be (``auto`` is resolved by :func:`mosaicflow.yolo.budget.resolve_freeze`).
FREEZE_SETTINGS = ("auto", "none", "backbone", "head-only")


#: Ultralytics augmentations that resample pixels (they blur a mosaic's block grid).
RESAMPLING_AUGMENTATIONS = ("scale", "translate", "degrees", "shear", "perspective")


@dataclass(frozen=True)
class TrainSpec:
    """What one YOLO training run needs, common to the segmenter and the detector."""

    task: str  # "segment" or "detect"
    model: str | None  # architecture yaml when training from scratch; None with `pretrained`
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
    min_steps: int = 0  # least optimizer steps; folded into `epochs` by yolo.budget.plan_budget
    freeze: str = "none"  # auto | none | backbone | head-only; auto: yolo.budget.plan_budget
    overrides: Mapping[str, Any] = field(default_factory=dict)
    cpu_precision: str = "auto"  # auto | bf16 | fp32 (see mosaicflow.yolo.cpu_training)
    resample_augmentation: bool = True  # False: no augmentation that resamples pixels

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
        if self.freeze not in FREEZE_SETTINGS:
            raise ValueError(f"freeze must be {', '.join(FREEZE_SETTINGS)}; got {self.freeze!r}")
        if not self.resample_augmentation:
            args.update(dict.fromkeys(RESAMPLING_AUGMENTATIONS, 0.0))
        args.update(dict(self.overrides))
        if str(args["optimizer"]).lower() == "auto":
            raise ValueError(
                "optimizer 'auto' lets ultralytics pick the optimizer and learning rate from the "
                "planned iteration count: name one (SGD, AdamW, MuSGD, ...)"
            )
        if args.pop("time", None):
            raise ValueError("ultralytics' `time` budget fits training to the clock: use epochs")
        return args


def frozen_modules(module_types: Sequence[str], freeze: str) -> int:
    """How many leading modules of a network ``freeze`` keeps fixed (ultralytics' ``freeze``).

    Args:
        module_types: the class names of the network's modules, in order (``model.model``).
        freeze: ``none``, ``backbone`` (every module up to and including the first ``SPPF``)
            or ``head-only`` (every module but the last, the detection or segmentation head).

    Raises:
        ValueError: ``backbone`` for a network without an ``SPPF``; an unknown setting.
    """
    if freeze == "none":
        return 0
    if freeze == "head-only":
        return len(module_types) - 1
    if freeze == "backbone":
        if "SPPF" not in module_types:
            raise ValueError("freeze: backbone needs a network with an SPPF module (YOLOv8/11)")
        return list(module_types).index("SPPF") + 1
    raise ValueError(f"freeze {freeze!r} is not resolved (none, backbone or head-only)")


def spec_from_params(params: Mapping[str, Any], task: str, **fixed: Any) -> TrainSpec:
    """The training spec of a model's training keys (the train rule's params, see
    :func:`mosaicflow.yolo.models.train_params`): every :class:`TrainSpec` field they hold, plus
    ``task`` and ``fixed`` values for fields the model does not configure.

    Args:
        params: the training keys of the model's section.
        task: ``segment`` or ``detect``.
        fixed: values of fields the section does not have.
    """
    values = {name: params[name] for name in TRAIN_FIELDS if name in params}
    values["overrides"] = dict(values.get("overrides") or {})
    return TrainSpec(task=task, **{**values, **fixed})


#: The fields of :class:`TrainSpec` a model config can set (all but ``task``).
TRAIN_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(TrainSpec) if f.name != "task"
)


def plain(obj: Any) -> Any:
    """A stage config (frozen dataclass with read-only mappings) as plain JSON-able data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping | types.MappingProxyType):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj
