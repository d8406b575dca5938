"""Matplotlib figures as reproducible PNG files (Agg backend, atomic writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosaicflow.io import atomic_path


def figure(panels: int) -> tuple[Any, Any]:
    """A figure of ``panels`` side-by-side axes (Agg backend); returns (figure, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=(5.0 * panels, 3.6), squeeze=False)
    return fig, axes[0]


def save_figure(fig: Any, out: Path) -> Path:
    """Write ``fig`` as a PNG to ``out`` atomically (no software tag: same bytes for the same
    plot) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return Path(out)


def plot_message(out: Path, title: str, message: str) -> Path:
    """A plot holding only ``message`` (a model without logged scalars)."""
    fig, (ax,) = figure(1)
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return save_figure(fig, out)
