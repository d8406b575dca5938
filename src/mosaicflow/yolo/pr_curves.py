"""Precision-recall curves of a YOLO model's test scoring as a PNG (COCO's interpolated
precision at IoU 0.5 on every test frame, :mod:`mosaicflow.yolo.scoring`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mosaicflow.figures import figure, plot_message, save_figure


def plot_pr_curves(
    curves: Mapping[str, Mapping[str, Sequence[float] | None]] | None,
    recall: Sequence[float],
    out: Path,
    title: str,
) -> Path:
    """Precision-recall curves at IoU 0.5 of a YOLO model on the test videos.

    Args:
        curves: ``{"mask" | "box": {class name: precision per recall point, or None}}``, as
            the test scorers of :mod:`mosaicflow.yolo.scoring` return them; None or empty
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
    fig, axes = figure(len(kinds))
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
    return save_figure(fig, out)
