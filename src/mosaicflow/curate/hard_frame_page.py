"""``mosaicflow review frames``: a static page per video of the frames a labeller should see first.

For each video, a model (and optionally a second one) runs over the frames;
:mod:`mosaicflow.curate.hard_frames` flags and picks the frames where it is unsure; each picked
frame is written as a JPEG with the model's labelme pre-label beside it, and a page shows them
with the model's regions drawn over (solid: found, dashed boxes: below the found score), a
checkbox each and keys to step. The page's export is a selection file that
:mod:`mosaicflow.curate.hard_frame_export` turns into a labelme folder of the ticked frames.

The output folder::

    index.html                one link per video
    picks.tsv                 video, frame, stem, priority, reasons, notes of every picked frame
    <video>/index.html        the page
    <video>/frames.json       the page's frames (what an export may name)
    <video>/<stem>.jpg|.json  each picked frame and its pre-label (stem: <video>_<frame:06d>)
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mosaicflow.curate.hard_frames import FlaggedFrame, Thresholds, flag_frames, pick_frames
from mosaicflow.ids import VIDEO_EXTENSIONS, sanitise_stem
from mosaicflow.io import atomic_dir, write_bytes, write_json, write_text
from mosaicflow.outputs import MARKER, claim_output_dir

log = logging.getLogger(__name__)

#: The command named by the output folder's marker.
COMMAND = "review frames"
#: What a page's export file says it is.
SELECTION_FORMAT = "mosaicflow-review-frames-selection"
SELECTION_VERSION = 1
#: The list of a page's frames, beside its ``index.html``.
FRAMES_FILE = "frames.json"
JPEG_QUALITY = 95


@dataclass(frozen=True)
class ReviewFramesResult:
    """What ``review frames`` wrote."""

    out_dir: Path
    videos: int
    frames_predicted: int
    frames_flagged: int
    frames_picked: int


@dataclass(frozen=True)
class ModelSettings:
    """How the models run.

    Attributes:
        lowest: lowest score looked at (regions below ``thresholds.found`` are shown dashed and
            flagged as low confidence).
        imgsz: inference size (None: the size ``--model`` was trained at, else 640).
        device: ``auto|cpu|cuda:N``.
        threads: CPU threads.
        stride: predict every ``stride``-th frame.
        max_frames: predict at most this many frames per video (None: all).
    """

    lowest: float = 0.1
    imgsz: int | None = None
    device: str = "auto"
    threads: int = 1
    stride: int = 1
    max_frames: int | None = None


def video_paths(given: Sequence[Path]) -> dict[str, Path]:
    """Page ids of the videos given (files, or folders searched recursively).

    Raises:
        ValueError: naming a path that is missing or holds no video, or two videos whose
            names give the same id.
    """
    from mosaicflow.video.files import video_files

    found: list[Path] = []
    for path in given:
        path = Path(path)
        if path.is_dir():
            inside = list(video_files(path))
            if not inside:
                raise ValueError(f"{path}: no videos ({', '.join(sorted(VIDEO_EXTENSIONS))})")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise ValueError(f"{path}: video not found")
    ids: dict[str, Path] = {}
    for path in found:
        vid = sanitise_stem(path.stem)
        if vid in ids and ids[vid].resolve() != path.resolve():
            raise ValueError(f"{path}: its name gives the page id '{vid}' of {ids[vid]} too")
        ids[vid] = path
    return ids


def page_html(data: dict[str, Any]) -> str:
    """The page of one video: the template with ``data`` embedded (as JSON that cannot end its
    script element) and the video's name as its title (HTML-escaped)."""
    template = resources.files("mosaicflow.curate").joinpath("hard_frames_page.html")
    payload = json.dumps(data, separators=(",", ":"))
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        payload = payload.replace(char, escaped)
    values = {"__TITLE__": html.escape(str(data["video"])), "__DATA__": payload}
    text = template.read_text(encoding="utf-8")
    return re.sub("__TITLE__|__DATA__", lambda match: values[match.group(0)], text)


def _shape_entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's polygons of a labelme pre-label (score read back from its description)."""
    entries = []
    for shape in doc["shapes"]:
        score = shape.get("description", "").removeprefix("score=")
        entries.append({"label": shape["label"], "score": score, "points": shape["points"]})
    return entries


def _prelabels(
    model: Any, images: Sequence[np.ndarray], stems: Sequence[str], found: float, settings: Any
) -> list[dict[str, Any]]:
    """Labelme pre-labels of ``images`` at full resolution (regions scored at least ``found``)."""
    from mosaicflow.yolo.prelabel import result_document

    kwargs = {
        "imgsz": settings.imgsz,
        "conf": found,
        "device": settings.ultralytics_device,
        "retina_masks": True,
        "verbose": False,
    }
    docs = []
    for start in range(0, len(images), 16):
        results = model.predict(list(images[start : start + 16]), **kwargs)
        for stem, image, result in zip(
            stems[start : start + 16], images[start : start + 16], results, strict=True
        ):
            height, width = image.shape[:2]
            docs.append(result_document(result, model.names, f"{stem}.jpg", width, height))
    return docs


@dataclass(frozen=True)
class _Run:
    """Settings resolved for one run (the ultralytics device string added)."""

    imgsz: int
    ultralytics_device: str


def write_video_page(
    folder: Path,
    vid: str,
    video: Path,
    model: Any,
    picks: Sequence[FlaggedFrame],
    predictions: Any,
    thresholds: Thresholds,
    run: _Run,
    final: Path,
) -> list[dict[str, Any]]:
    """Write one video's picked frames, pre-labels and page into ``folder``; returns the rows
    of ``picks.tsv``."""
    from mosaicflow.video.decode import iter_frames

    folder.mkdir(parents=True, exist_ok=True)
    numbers = [predictions.frame_numbers[p.index] for p in picks]
    decoded = dict(iter_frames(video, numbers, fmt="bgr24"))
    stems = [f"{vid}_{number:06d}" for number in numbers]
    images = [decoded[number] for number in numbers]
    docs = _prelabels(model, images, stems, thresholds.found, run)
    frames, rows = [], []
    for pick, number, stem, image, doc in zip(picks, numbers, stems, images, docs, strict=True):
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError(f"{folder / stem}.jpg: JPEG encoding failed")
        write_bytes(folder / f"{stem}.jpg", data.tobytes())
        write_json(folder / f"{stem}.json", doc)
        weak = [
            {"label": d.label, "score": f"{d.score:.3f}", "box": [round(v, 1) for v in d.box]}
            for d in predictions.detections[pick.index]
            if d.score < thresholds.found
        ]
        frames.append(
            {
                "stem": stem,
                "frame": number,
                "image": f"{stem}.jpg",
                "priority": round(pick.priority, 2),
                "reasons": list(pick.reasons),
                "notes": list(pick.notes),
                "shapes": _shape_entries(doc),
                "weak": weak,
            }
        )
        rows.append(
            {
                "video": vid,
                "frame": number,
                "stem": stem,
                "priority": pick.priority,
                "reasons": ",".join(pick.reasons),
                "notes": "; ".join(pick.notes),
            }
        )
    width, height = predictions.size
    data = {
        "format": SELECTION_FORMAT,
        "version": SELECTION_VERSION,
        "video": vid,
        "source": str(video.resolve()),
        "page": str(final / vid),
        "width": width,
        "height": height,
        "found": thresholds.found,
        "frames": frames,
    }
    write_text(folder / "index.html", page_html(data))
    write_json(folder / FRAMES_FILE, {"video": vid, "frames": [f["stem"] for f in frames]})
    return rows


def _index_html(counts: dict[str, tuple[int, int, int]]) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(vid)}/index.html">{html.escape(vid)}</a>: {picked} frames '
        f"to look at ({flagged} flagged of {predicted} predicted)</li>"
        for vid, (predicted, flagged, picked) in counts.items()
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Frames to label'
        f"</title></head>\n<body><h1>Frames to label</h1>\n<ul>\n{items}\n</ul></body></html>\n"
    )


def review_frames(
    videos: Sequence[Path],
    model_path: Path,
    out_dir: Path,
    *,
    second_model: Path | None = None,
    count: int = 24,
    min_spacing: int = 5,
    thresholds: Thresholds | None = None,
    settings: ModelSettings | None = None,
) -> ReviewFramesResult:
    """Pick each video's frames to label and write their pages (see the module docstring).

    Args:
        videos: video files or folders of videos.
        model_path: the segmenter (or detector) whose doubts pick the frames; its regions are
            the pre-labels.
        out_dir: the output folder: new, empty or an earlier output of this command.
        second_model: a second model; frames where the two disagree are flagged.
        count: frames picked per video at most.
        min_spacing: picked frames lie at least this many sampled frames apart.
        thresholds: see :class:`~mosaicflow.curate.hard_frames.Thresholds`.
        settings: see :class:`ModelSettings`.

    Raises:
        ValueError: naming the path for missing videos or models, an output folder that may
            not be written, or thresholds that do not fit together.
    """
    from mosaicflow.curate.hard_frame_predict import predict_video
    from mosaicflow.yolo.adapter import DEFAULT_IMGSZ, open_model

    thresholds = thresholds or Thresholds()
    settings = settings or ModelSettings()
    if count < 1 or min_spacing < 0:
        raise ValueError(f"--count ({count}) must be at least 1, --min-spacing ({min_spacing}) 0")
    if settings.stride < 1 or (settings.max_frames is not None and settings.max_frames < 1):
        raise ValueError(
            f"--stride ({settings.stride}) and --max-frames ({settings.max_frames}) must be "
            "at least 1"
        )
    if not 0.0 <= settings.lowest <= thresholds.found:
        raise ValueError(
            f"--lowest ({settings.lowest}) must lie between 0 and --conf ({thresholds.found})"
        )
    ids = video_paths(videos)
    for path, option in ((model_path, "--model"), (second_model, "--second-model")):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"{option} {path}: model file not found")
    inputs = [*videos, *ids.values(), model_path, second_model]
    out_dir = claim_output_dir(out_dir, COMMAND, inputs)
    final = Path(out_dir).resolve()
    config_dir = Path(tempfile.mkdtemp(prefix="mosaicflow-yolo-"))
    try:
        opened = [
            open_model(path, config_dir=config_dir, threads=settings.threads,
                       device=settings.device, origin=option)
            for path, option in ((model_path, "--model"), (second_model, "--second-model"))
            if path is not None
        ]  # fmt: skip
        model = opened[0].model
        second = opened[1].model if second_model else None
        imgsz = settings.imgsz or opened[0].trained_imgsz or DEFAULT_IMGSZ
        run = _Run(imgsz, opened[0].device)
        counts: dict[str, tuple[int, int, int]] = {}
        rows: list[dict[str, Any]] = []
        with atomic_dir(out_dir) as tmp:
            for vid, video in ids.items():
                predictions = predict_video(
                    video,
                    model,
                    lowest=settings.lowest,
                    found=thresholds.found,
                    imgsz=imgsz,
                    device=run.ultralytics_device,
                    stride=settings.stride,
                    max_frames=settings.max_frames,
                    second=second,
                )
                flagged = flag_frames(predictions.detections, thresholds, predictions.agreement)
                picks = pick_frames(flagged, count, min_spacing)
                rows += write_video_page(
                    tmp / vid, vid, video, model, picks, predictions, thresholds, run, final
                )
                counts[vid] = (len(predictions.frame_numbers), len(flagged), len(picks))
                log.info("%s: %d frames flagged, %d picked", vid, len(flagged), len(picks))
            columns = ["video", "frame", "stem", "priority", "reasons", "notes"]
            table = pd.DataFrame(rows, columns=columns)
            write_text(tmp / "picks.tsv", table.to_csv(sep="\t", index=False))
            write_text(tmp / "index.html", _index_html(counts))
            write_json(tmp / MARKER, {"command": COMMAND})
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)
    return ReviewFramesResult(
        final,
        len(ids),
        sum(c[0] for c in counts.values()),
        sum(c[1] for c in counts.values()),
        sum(c[2] for c in counts.values()),
    )
