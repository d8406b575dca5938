"""What a restoration stage records: loss and validation history (carried through
checkpoints), TensorBoard or JSON-lines scalars, ``validation.json`` and the stage's result."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mosaicflow.io import write_json

log = logging.getLogger(__name__)


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
class StageResult:
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
) -> StageResult:
    """The record of a finished stage from its history; written to ``metrics_out`` if given."""
    last = history.loss_curve[-1] if history.loss_curve else {}
    result = StageResult(
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


def write_validation(work_dir: Path, history: History) -> None:
    """``<work_dir>/validation.json``: baselines and every validation so far (atomic)."""
    write_json(
        work_dir / "validation.json",
        {"version": 1, "baselines": history.baselines, "validation": history.validation},
    )
