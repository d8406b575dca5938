"""The pre-flight of a labelled set, before a model trains on it: per split its frames, labelled
instances, empty frames, source videos and image sizes; errors for a set no model can train on,
warnings for a thin one.

A source video is a frame file's name without its trailing frame number
(:func:`~mosaicflow.formats.splits.frame_group`: ``clip-000012.json`` -> ``clip``). The source
videos' own sizes are not known where the labelme folders are converted, so the training
frames' sizes are compared with the validation frames', which stand for the footage.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaicflow.formats.labelme import LabelmeFrame
from mosaicflow.formats.splits import frame_group

#: Fewer labelled instances than this in the training frames: the set is thin.
FEW_INSTANCES = 30
#: Training frames this many times smaller on a side than the validation frames (median
#: frames): the model learns at another scale than the one it runs at.
SIZE_RATIO = 2.0
#: What the training frames' sizes are compared with (recorded with the figures).
SIZES_COMPARED_WITH = "validation frames (the source videos' sizes are not known to this step)"


@dataclass(frozen=True)
class Preflight:
    """The pre-flight's outcome.

    Attributes:
        splits: per split: ``frames``, ``instances``, ``empty`` (frames without a target),
            ``sources`` (videos), ``width`` and ``height`` (``min``, ``median``, ``max``) and
            ``median_size`` (``[width, height]`` of the frame of median area); an empty split
            has only the counts.
        warnings: what is thin about the set, one sentence each.
    """

    splits: dict[str, dict[str, Any]]
    warnings: list[str]

    def record(self) -> dict[str, Any]:
        """The figures and warnings as written to the dataset's provenance."""
        return {
            "splits": self.splits,
            "warnings": list(self.warnings),
            "sizes_compared_with": SIZES_COMPARED_WITH,
        }

    def lines(self) -> list[str]:
        """One log line per split."""
        out = []
        for split, fig in self.splits.items():
            line = (
                f"{split}: {fig['frames']} frames from {fig['sources']} video(s), "
                f"{fig['instances']} labelled instances, {fig['empty']} empty frames"
            )
            if fig["frames"]:
                w, h = fig["width"], fig["height"]
                line += (
                    f"; sizes {w['min']}x{h['min']} to {w['max']}x{h['max']}, median frame "
                    f"{_size(fig['median_size'])}"
                )
            out.append(line)
        return out


def _size(size: Sequence[int]) -> str:
    return f"{size[0]}x{size[1]}"


def _stats(values: list[int]) -> dict[str, int]:
    return {"min": min(values), "median": statistics.median_low(values), "max": max(values)}


def split_figures(
    frames: Sequence[LabelmeFrame], group: Callable[[Path], str] = frame_group
) -> dict[str, Any]:
    """The figures of one split (see :class:`Preflight`)."""
    figures: dict[str, Any] = {
        "frames": len(frames),
        "instances": sum(len(f.shapes) for f in frames),
        "empty": sum(not f.shapes for f in frames),
        "sources": len({group(f.json_path) for f in frames}),
    }
    if frames:
        by_area = sorted(frames, key=lambda f: (f.width * f.height, f.width))
        middle = by_area[(len(by_area) - 1) // 2]
        figures["width"] = _stats([f.width for f in frames])
        figures["height"] = _stats([f.height for f in frames])
        figures["median_size"] = [middle.width, middle.height]
    return figures


def _where(dirs: Sequence[Path]) -> str:
    return ", ".join(str(d) for d in dirs)


def _other_labels(
    splits: Mapping[str, Sequence[LabelmeFrame]], dirs: Sequence[Path], labels: Sequence[str]
) -> list[str]:
    """A warning naming the labels of the shapes left out (not targets), with a file of each:
    a label spelt another way (``NSFW``) or a folder of another dataset is noticed."""
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for frames in splits.values():
        for frame in frames:
            for label in frame.other_labels:
                counts[label] += 1
                example.setdefault(label, frame.json_path.name)
    if not counts:
        return []
    found = ", ".join(
        f"'{label}' x{n} (e.g. {example[label]})" for label, n in sorted(counts.items())
    )
    return [
        f"{_where(dirs)}: {sum(counts.values())} shapes whose label is not one of "
        f"{list(labels)} (regions.labels; case counts) were left out: {found}; add the label "
        "if those shapes are regions to learn, or correct it"
    ]


def preflight(
    splits: Mapping[str, Sequence[LabelmeFrame]],
    train_dirs: Sequence[Path],
    val_dirs: Sequence[Path],
    *,
    labels: Sequence[str],
    val_fraction: float | None = None,
    strict: bool = False,
    group: Callable[[Path], str] = frame_group,
) -> Preflight:
    """Check a labelled set (``train`` and ``val`` frames) before a model trains on it.

    Args:
        splits: ``train`` and ``val`` frames, as they will be written.
        train_dirs, val_dirs: the labelme folders they came from (named in the messages); no
            ``val_dirs``: the validation frames were held out of the training folders.
        labels: the target labels (named in the messages).
        val_fraction: the held-out fraction (without ``val_dirs``), named in the messages.
        strict: raise on a set no model can train on or be scored on (a split without
            frames, training or validation frames without a single labelled instance); else
            these are warnings too.
        group: frame file -> its source video.

    Returns:
        The figures and warnings.

    Raises:
        ValueError: (``strict``) naming the folder, for what cannot work.
    """
    figures = {split: split_figures(frames, group) for split, frames in splits.items()}
    train, val = figures["train"], figures["val"]
    problems: list[str] = []
    if not train["frames"]:
        problems.append(f"{_where(train_dirs)}: no training frames left after the split")
    if not val["frames"]:
        if val_dirs:
            problems.append(f"{_where(val_dirs)}: no validation frames")
        else:
            problems.append(
                f"{_where(train_dirs)}: no validation frames: the {train['frames']} frames "
                f"come from {train['sources']} video(s) and the validation split "
                f"(val_fraction {val_fraction}) holds out whole videos; give validation "
                "frames of another video (source.labelme_val) or label frames of more videos"
            )
    if train["frames"] and not train["instances"]:
        problems.append(
            f"{_where(train_dirs)}: none of the {train['frames']} training frames has a "
            f"labelled instance of {list(labels)} ({train['empty']} empty or flagged empty): "
            "there is nothing to learn; draw the target regions with these labels"
        )
    if train["instances"] and val["frames"] and not val["instances"]:
        problems.append(
            f"{_where(val_dirs or train_dirs)}: none of the {val['frames']} validation frames "
            f"has a labelled instance of {list(labels)}: validation cannot score the model"
        )
    if strict and problems:
        raise ValueError("; ".join(problems))
    warnings = list(problems) + _other_labels(splits, [*train_dirs, *val_dirs], labels)
    if train["sources"] == 1:
        name = group(splits["train"][0].json_path)
        warnings.append(
            f"{_where(train_dirs)}: all {train['frames']} training frames come from one video "
            f"({name}): a model learns that video's look, not the regions; label frames of "
            "more videos (a frame file's name without its trailing frame number names its "
            "video)"
        )
    if train["frames"] and train["instances"] and train["instances"] < FEW_INSTANCES:
        warnings.append(
            f"{_where(train_dirs)}: only {train['instances']} labelled instances in "
            f"{train['frames']} training frames (fewer than {FEW_INSTANCES}): a thin set; "
            "label more frames, and let min_steps keep the training long enough"
        )
    if train["frames"] and val["frames"]:
        small, large = train["median_size"], val["median_size"]
        ratio = ((large[0] * large[1]) / max(1, small[0] * small[1])) ** 0.5
        if ratio >= SIZE_RATIO:
            warnings.append(
                f"{_where(train_dirs)}: the training frames (median {_size(small)}) are "
                f"{ratio:.1f}x smaller on a side than the validation frames (median "
                f"{_size(large)}), which stand for the footage the model will run on (the "
                "source videos' sizes are not known to this step): it learns the regions at "
                "another scale; label frames at the videos' own size"
            )
    return Preflight(figures, warnings)
