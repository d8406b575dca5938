"""Training curves and precision-recall curves as PNG plots (matplotlib, Agg).

Training curves come from the scalars the trainings logged:

- YOLO models (region segmenter, watermark detector, mosaic detector): ultralytics' per-epoch
  ``results.csv`` in the run folder, ``<work_root>/<state_key>/run/results.csv`` (the state key
  is in ``train.json``): losses, and the validation metrics when validation ran during training.
- Restoration: the model card's stage-1 and stage-2 ``loss_curve`` and ``validation`` (PSNR in
  the mosaic mask), with the validation baselines (mosaic input, best blur) as horizontal lines.

A model without logged scalars (given weights, a cleaned work folder) gets a plot that says so,
so the report always has the figure. The precision-recall curves of the YOLO models are drawn
by :mod:`mosaicflow.yolo.pr_curves`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mosaicflow.figures import figure, plot_message, save_figure
from mosaicflow.io import read_json

log = logging.getLogger(__name__)

#: The restoration model's name among the curves (the others are YOLO model names).
RESTORATION = "restoration"


def yolo_results_csv(train_json: Path, work_root: Path) -> Path:
    """Where ultralytics logged the per-epoch scalars of a trained YOLO model."""
    record = read_json(train_json)
    key = record.get("state_key") if isinstance(record, dict) else None
    if not key:
        raise ValueError(f"{train_json}: no 'state_key' (not a training record)")
    return Path(work_root) / str(key) / "run" / "results.csv"


def read_yolo_curve(path: Path) -> pd.DataFrame:
    """Ultralytics' ``results.csv`` (column names stripped; one row per epoch).

    Raises:
        ValueError: naming the file when it has no ``epoch`` column.
    """
    frame = pd.read_csv(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    if "epoch" not in frame.columns:
        raise ValueError(f"{path}: not an ultralytics results.csv (no 'epoch' column)")
    return frame


def plot_yolo_curve(curve: pd.DataFrame, out: Path, title: str) -> Path:
    """Losses (train, val) and validation metrics per epoch of a YOLO training."""
    fig, (losses, metrics) = figure(2)
    epochs = curve["epoch"]
    for column in curve.columns:
        if column.startswith(("train/", "val/")) and curve[column].abs().sum() > 0:
            style = "-" if column.startswith("train/") else "--"
            losses.plot(epochs, curve[column], style, marker=".", label=column)
    losses.set(title=f"{title}: losses", xlabel="epoch", ylabel="loss")
    shown = [c for c in curve.columns if c.startswith("metrics/") and curve[c].abs().sum() > 0]
    for column in shown:
        metrics.plot(epochs, curve[column], marker=".", label=column.removeprefix("metrics/"))
    metrics.set(title=f"{title}: validation", xlabel="epoch", ylim=(0, 1))
    if not shown:
        metrics.text(0.5, 0.5, "no validation during training", ha="center", va="center",
                     transform=metrics.transAxes)  # fmt: skip
    for ax in (losses, metrics):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(fig, out)


def _stage_losses(ax: Any, curve: Sequence[Mapping[str, Any]], title: str) -> None:
    if not curve:
        ax.text(0.5, 0.5, "not trained", ha="center", va="center", transform=ax.transAxes)
    else:
        frame = pd.DataFrame(list(curve))
        for column in frame.columns:
            if column != "iter" and pd.api.types.is_numeric_dtype(frame[column]):
                ax.plot(frame["iter"], frame[column], marker=".", label=column)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    ax.set(title=title, xlabel="iteration", ylabel="loss")
    ax.grid(alpha=0.3)


def plot_restoration_curve(card: Mapping[str, Any], out: Path) -> Path:
    """Stage-1 and stage-2 losses and the validation PSNR in the mask, with the baselines."""
    fig, (s1, s2, val) = figure(3)
    stage1, stage2 = card.get("stage1") or {}, card.get("stage2") or {}
    _stage_losses(s1, stage1.get("loss_curve") or [], "stage 1 losses")
    _stage_losses(s2, stage2.get("loss_curve") or [], "stage 2 losses")
    offset = (card.get("iterations") or {}).get("stage1") or 0
    for name, stage, shift in (("stage 1", stage1, 0), ("stage 2", stage2, offset)):
        points = [p for p in stage.get("validation") or [] if p.get("psnr_mask") is not None]
        if points:
            val.plot([p["iter"] + shift for p in points], [p["psnr_mask"] for p in points],
                     marker="o", label=f"{name} (restored)")  # fmt: skip
    baselines = card.get("baselines") or {}
    for name, style in (("input", ":"), ("blur", "--")):
        value = (baselines.get(name) or {}).get("psnr_mask")
        if value is not None:
            sigma = baselines[name].get("sigma")
            label = f"{name} baseline" + (f" (sigma {sigma:g})" if sigma is not None else "")
            val.axhline(value, linestyle=style, color="grey", label=label)
    val.set(title="validation PSNR in the mask", xlabel="iteration (stage 2 after stage 1)",
            ylabel="dB")  # fmt: skip
    if val.get_legend_handles_labels()[0]:
        val.legend(fontsize=7)
    val.grid(alpha=0.3)
    return save_figure(fig, out)


def plot_training_curve(
    model: str, record: Path, out: Path, *, work_root: Path | None = None
) -> Path:
    """Rule ``plot_training_curves``: the training curve of one model.

    Args:
        model: a YOLO model's name (``region_seg``, ``watermark``, ``detector``) or
            ``restoration``.
        record: the YOLO model's ``train.json``, or the restoration model card.
        out: the PNG to write.
        work_root: the YOLO model's ``results/<model>/_work`` (where its run folder lies).

    Returns:
        ``out``.
    """
    if model == RESTORATION:
        card = read_json(record)
        if not isinstance(card, dict):
            raise ValueError(f"{record}: a model card must be a JSON object")
        return plot_restoration_curve(card, out)
    if work_root is None:
        raise ValueError(f"{model}: the YOLO curve needs its work folder (work_root)")
    csv = yolo_results_csv(record, work_root)
    if not csv.is_file():
        log.warning("%s: %s missing; no per-epoch scalars to plot", model, csv)
        return plot_message(out, model, f"no per-epoch scalars logged\n({csv.name} not found)")
    return plot_yolo_curve(read_yolo_curve(csv), out, model)
