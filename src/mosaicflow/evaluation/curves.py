"""Training curves and precision-recall curves as PNG plots (matplotlib, Agg).

Training curves come from the scalars the trainings logged:

- YOLO models (region segmenter, watermark detector, mosaic detector): ultralytics' per-epoch
  ``results.csv`` in the run folder, ``<work_root>/<state_key>/run/results.csv`` (the state key
  is in ``train.json``): losses, and the validation metrics when validation ran during training.
- Restoration: the model card's stage-1 and stage-2 ``loss_curve`` and ``validation`` (PSNR in
  the mosaic mask), with the validation baselines (mosaic input, best blur) as horizontal lines.

A model without logged scalars (given weights, a cleaned work folder) gets a plot that says so,
so the report always has the figure. The precision-recall curves of the YOLO models are those of
their test scoring (COCO's interpolated precision at IoU 0.5 on every test frame).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mosaicflow.io import atomic_path, read_json

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


def _figure(panels: int) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=(5.0 * panels, 3.6), squeeze=False)
    return fig, axes[0]


def _save(fig: Any, out: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return Path(out)


def plot_message(out: Path, title: str, message: str) -> Path:
    """A plot holding only ``message`` (a model without logged scalars)."""
    fig, (ax,) = _figure(1)
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return _save(fig, out)


def plot_yolo_curve(curve: pd.DataFrame, out: Path, title: str) -> Path:
    """Losses (train, val) and validation metrics per epoch of a YOLO training."""
    fig, (losses, metrics) = _figure(2)
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
    return _save(fig, out)


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
    fig, (s1, s2, val) = _figure(3)
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
    return _save(fig, out)


def plot_pr_curves(
    curves: Mapping[str, Mapping[str, Sequence[float] | None]] | None,
    recall: Sequence[float],
    out: Path,
    title: str,
) -> Path:
    """Precision-recall curves at IoU 0.5 of a YOLO model on the test videos.

    Args:
        curves: ``{"mask" | "box": {class name: precision per recall point, or None}}``, as
            the test scorers of :mod:`mosaicflow.regions.evaluate` return them; None or empty
            when the model had no ground truth to be scored on.
        recall: the recall points (x axis).
        out: the PNG to write.
        title: the model's name.

    Returns:
        ``out``.
    """
    kinds = [
        k for k in ("mask", "box") if any(v is not None for v in (curves or {}).get(k, {}).values())
    ]
    if not kinds:
        return plot_message(out, title, "no test ground truth: no precision-recall curve")
    fig, axes = _figure(len(kinds))
    for ax, kind in zip(axes, kinds, strict=True):
        for name, precision in curves[kind].items():  # type: ignore[index]
            if precision is None:
                continue
            if len(precision) != len(recall):
                raise ValueError(
                    f"{title} {kind} {name}: {len(precision)} precision values for "
                    f"{len(recall)} recall points"
                )
            area = sum(precision) / len(precision)
            ax.plot(recall, precision, label=f"{name} (AP50 {area:.3f})")
        ax.set(title=f"{title}: {kind} precision-recall (IoU 0.5)", xlabel="recall",
               ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
        ax.legend(fontsize=7, loc="lower left")
        ax.grid(alpha=0.3)
    return _save(fig, out)


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
