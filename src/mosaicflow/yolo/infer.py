"""Region inference with tracking over a video's kept frames -> ``regions.parquet``.

Every later stage reuses this table instead of running the segmenter again. One row per
detected instance of a processed frame, plus one row with ``instance = -1`` for every processed
frame without detections (so the table says which frames were looked at):

==============  =====================================================================
column          meaning
==============  =====================================================================
frame           frame number (as in ``results/frames/{video}/index.parquet``)
time            seconds
instance        index of the instance in its frame (-1: the frame has none)
track_id        ByteTrack id, stable across frames (-1: not (yet) tracked)
class_id        class index (``regions.labels`` order)
score           confidence
x0 y0 x1 y1     box in pixels: the mask's bounds (the tracker's box only for an empty mask)
area            mask pixels
rle             COCO RLE counts of the mask (``pycocotools`` compressed string)
==============  =====================================================================

The mask size is the frame size (``height``/``width`` in the summary). Frames are decoded in a
second thread while the model runs on the previous batch; ``half`` precision on CUDA.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow.io import write_json, write_parquet
from mosaicflow.yolo.adapter import precision_kwargs

log = logging.getLogger(__name__)

REGIONS_VERSION = 1
COLUMNS = {
    "frame": "int64",
    "time": "float64",
    "instance": "int32",
    "track_id": "int64",
    "class_id": "int32",
    "score": "float32",
    "x0": "float32",
    "y0": "float32",
    "x1": "float32",
    "y1": "float32",
    "area": "int64",
    "rle": "string",
}


def encode_rle(mask: np.ndarray) -> str:
    """COCO compressed RLE counts of a binary mask."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return rle["counts"].decode("ascii")


def decode_rle(counts: str, height: int, width: int) -> np.ndarray:
    """Binary mask (bool, height x width) of an RLE string from ``regions.parquet``."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": [height, width], "counts": counts.encode("ascii")}) > 0


_END = object()


def prefetch(iterator: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run ``iterator`` in a background thread, ``depth`` items ahead (decoding overlaps
    inference: PyAV and torch release the GIL). Exceptions re-raise in the consumer."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in iterator:
                if stop.is_set():
                    return
                slots.put(item)
            slots.put(_END)
        except BaseException as err:  # handed to the consumer
            slots.put(err)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def frame_batches(
    video: Path, frames: Sequence[int] | None, batch: int, threads: int = 1
) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Decode ``frames`` of ``video`` (all when None; BGR, as ultralytics expects) in lists of
    ``batch``."""
    from mosaicflow.video.decode import iter_frames
    from mosaicflow.yolo.scoring import batched

    return batched(iter_frames(video, frames, fmt="bgr24", threads=threads), batch)


def result_rows(frame: int, time_s: float, result: Any) -> list[dict[str, Any]]:
    """Rows of one ultralytics result (see the module docstring)."""
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return [
            {"frame": frame, "time": time_s, "instance": -1, "track_id": -1, "class_id": -1,
             "score": 0.0, "x0": 0.0, "y0": 0.0, "x1": 0.0, "y1": 0.0, "area": 0, "rle": None}
        ]  # fmt: skip
    xyxy = boxes.xyxy.cpu().numpy().copy()
    scores = boxes.conf.cpu().numpy()
    classes = boxes.cls.cpu().numpy().astype(int)
    ids = boxes.id.cpu().numpy().astype(int) if boxes.id is not None else np.full(len(boxes), -1)
    masks = result.masks.data.cpu().numpy() > 0.5 if result.masks is not None else None
    rows = []
    for i in range(len(boxes)):
        mask = masks[i] if masks is not None else None
        if mask is not None and mask.any():
            # ByteTrack reports its Kalman-filtered box, which can miss the mask by pixels
            ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
            xyxy[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
        rows.append(
            {
                "frame": frame,
                "time": time_s,
                "instance": i,
                "track_id": int(ids[i]),
                "class_id": int(classes[i]),
                "score": float(scores[i]),
                "x0": float(xyxy[i, 0]),
                "y0": float(xyxy[i, 1]),
                "x1": float(xyxy[i, 2]),
                "y1": float(xyxy[i, 3]),
                "area": int(mask.sum()) if mask is not None else 0,
                "rle": encode_rle(mask) if mask is not None else None,
            }
        )
    return rows


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The regions table with its fixed column types."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype(COLUMNS)


@dataclass(frozen=True)
class InferResult:
    """Summary of one video's region inference (also written as ``summary.json``)."""

    video: str
    version: int
    frames: int
    frames_with_regions: int
    instances: int
    tracks: int
    mean_score: float
    coverage_mean: float
    height: int
    width: int


def track_kwargs(
    imgsz: int, conf: float, iou: float, tracker: str, device: str, half: bool
) -> dict[str, Any]:
    """Arguments of ``model.track`` shared by the workflow and the benchmark."""
    return {
        "persist": True,
        "imgsz": imgsz,
        "conf": conf,
        "iou": iou,
        "tracker": tracker,
        "device": device,
        **precision_kwargs(half, device),
        "retina_masks": True,  # masks at the frame's size, not the network's
        "verbose": False,
    }


def track_video(
    model_path: Path,
    video: Path,
    frames: Sequence[int] | None,
    time_of: Callable[[int], float],
    *,
    cfg: Any,
    device: str,
    threads: int,
    config_dir: Path,
) -> tuple[pd.DataFrame, int, int]:
    """Segment and track the regions of ``frames`` of ``video`` (all frames when None).

    Args:
        model_path: the region segmenter's weights.
        video: the video file.
        frames: frame numbers to process, in increasing order, or None for every frame.
        time_of: frame number -> its time in seconds.
        cfg: the ``regions`` keys inference reads
            (:class:`~mosaicflow.yolo.config.RegionsInferConfig`).
        device: the config's device (``auto|cpu|cuda:N``).
        threads: CPU threads.
        config_dir: ultralytics' config folder of this job (under ``results/``).

    Returns:
        The regions table (see the module docstring), the frame height and width.
    """
    from mosaicflow.progress import ProgressLine
    from mosaicflow.yolo.adapter import open_model

    yolo = open_model(
        model_path, task="segment", config_dir=config_dir, threads=threads, device=device
    )
    model, dev = yolo.model, yolo.device
    kwargs = track_kwargs(cfg.imgsz, cfg.conf, cfg.iou, cfg.tracker, dev, cfg.half)
    rows: list[dict[str, Any]] = []
    height = width = 0
    total = None if frames is None else len(frames)
    progress = ProgressLine(log, f"{video.name}: regions", total, unit="frames")
    for chunk in prefetch(frame_batches(video, frames, cfg.infer_batch)):
        results = model.track([image for _, image in chunk], **kwargs)
        for (number, image), result in zip(chunk, results, strict=True):
            height, width = image.shape[:2]
            rows.extend(result_rows(number, time_of(number), result))
        progress.update(len(chunk))
    progress.close()
    return rows_frame(rows), height, width


def infer_regions(
    model_path: Path,
    video: Path,
    index_parquet: Path,
    out_parquet: Path,
    out_summary: Path,
    *,
    cfg: Any,
    device: str,
    threads: int,
    video_id: str,
    config_dir: Path,
) -> InferResult:
    """Segment and track the regions of a video's kept frames; write the table and summary.

    Args:
        model_path: the region segmenter's weights.
        video: the video file.
        index_parquet: its frame index (``kept`` frames are processed).
        out_parquet: ``results/regions/{video}/regions.parquet``.
        out_summary: ``results/regions/{video}/summary.json``.
        cfg: the ``regions`` keys inference reads
            (:class:`~mosaicflow.yolo.config.RegionsInferConfig`).
        device: the config's device (``auto|cpu|cuda:N``).
        threads: CPU threads.
        video_id: the video's id (recorded in the summary).
        config_dir: ultralytics' config folder of this job (under ``results/``).

    Returns:
        The summary.
    """
    index = pd.read_parquet(index_parquet)
    kept = index[index["kept"]]
    frames = [int(f) for f in kept["frame"]]
    times = dict(zip(kept["frame"].astype(int), kept["time"].astype(float), strict=True))
    start = time.monotonic()
    table, height, width = track_video(
        model_path, video, frames, times.__getitem__,
        cfg=cfg, device=device, threads=threads, config_dir=config_dir,
    )  # fmt: skip
    seconds = time.monotonic() - start
    write_parquet(out_parquet, table)
    found = table[table["instance"] >= 0]
    tracks = found.loc[found["track_id"] >= 0, "track_id"].nunique()
    per_frame_area = found.groupby("frame")["area"].sum()
    summary = InferResult(
        video=video_id,
        version=REGIONS_VERSION,
        frames=len(frames),
        frames_with_regions=int(found["frame"].nunique()),
        instances=len(found),
        tracks=int(tracks),
        mean_score=round(float(found["score"].mean()), 4) if len(found) else 0.0,
        coverage_mean=round(float(per_frame_area.sum() / max(1, len(frames) * height * width)), 5),
        height=height,
        width=width,
    )
    log.info("%s: %d frames in %.1f s (%.1f fps)", video_id, len(frames), seconds,
             len(frames) / max(seconds, 1e-9))  # fmt: skip
    write_json(out_summary, asdict(summary))
    return summary


def gather_summaries(
    paths: Sequence[Path],
    out_tsv: Path,
    *,
    model_record: Path | None = None,
    conf: float | None = None,
    required: bool = True,
) -> pd.DataFrame:
    """One row per video from the per-video ``summary.json`` files -> ``summary.tsv``.

    Args:
        paths: the per-video summaries.
        out_tsv: the table.
        model_record: the region segmenter's ``train.json`` (its validation figures and its
            training budget, optimizer steps and training images, go into the error below).
        conf: the inference threshold used (``regions.conf``), for the error below.
        required: a later stage builds its dataset from these regions (else finding none is
            only logged).

    Raises:
        RegionsNotFound: the segmenter found no region in any video, so no dataset can be
            built from its regions; says what to do.
    """
    from mosaicflow.io import atomic_path, read_json

    rows = [read_json(p) for p in paths]
    table = pd.DataFrame(rows, columns=list(InferResult.__dataclass_fields__))
    table = table.sort_values("video")
    if len(table) and int(table["instances"].sum()) == 0:
        message = _nothing_found(table, model_record, conf)
        if required:
            raise RegionsNotFound(message)
        log.warning(message)
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table


class RegionsNotFound(ValueError):
    """The region segmenter found no region in any source video."""


def _nothing_found(table: pd.DataFrame, model_record: Path | None, conf: float | None) -> str:
    from mosaicflow.io import read_json

    record = read_json(model_record) if model_record else {}
    val = record.get("metrics", {}).get("val")
    figures = ", ".join(f"{k} {v:.3f}" for k, v in sorted((val or {}).items())
                        if isinstance(v, float)) or "none recorded"  # fmt: skip
    trained, longer = _training_figures(record.get("training") or {})
    return (
        f"the region segmenter found no region in any of the {len(table)} videos "
        f"({int(table['frames'].sum())} frames{f' at regions.conf {conf}' if conf else ''}; "
        f"per-video summaries in results/regions/<video>/summary.json), so no restoration "
        f"clip or detection sample can be made. Its validation figures: {figures}"
        f"{f' ({model_record})' if model_record else ''}. {trained}Label more frames like "
        f"your videos (source.labelme_train), {longer}give a segmenter that knows your footage "
        "(regions.weights or regions.pretrained), or lower regions.conf."
    )


def _training_figures(training: dict[str, Any]) -> tuple[str, str]:
    """What the segmenter's training record says about its budget, and the budget advice."""
    if training.get("source") == "weights":
        return "It was given (regions.weights), not trained here. ", ""
    steps = training.get("steps")
    if steps is None:  # a record of a version that did not count steps
        return "", "train it longer (regions.min_steps), "
    suggest = max(500, -(-2 * int(steps) // 100) * 100)
    trained = (
        f"It trained {steps} optimizer steps on {training.get('train_images')} training "
        f"images ({training.get('train_instances')} labelled instances; "
        f"{training.get('epochs_planned')} epochs, set by {training.get('epochs_from')}). "
    )
    return trained, (
        f"train it longer (regions.min_steps: {suggest}, was {training.get('min_steps')}), "
    )


def truth_table(truth_mkv: Path, fps: float) -> pd.DataFrame:
    """A regions table (the ``regions.parquet`` layout) from a truth mask video: one row per
    visible instance per frame, its instance id as the track id, score 1; frames without an
    instance get the empty row. Lets stages that read regions run on the demo truth."""
    from mosaicflow.formats.truth import read_truth

    rows: list[dict[str, Any]] = []
    for frame, ids in read_truth(truth_mkv):
        instances = [int(i) for i in np.unique(ids) if i]
        for k, inst in enumerate(instances):
            mask = ids == inst
            ys, xs = np.nonzero(mask)
            rows.append(
                {"frame": frame, "time": frame / fps, "instance": k, "track_id": inst,
                 "class_id": 0, "score": 1.0, "x0": float(xs.min()), "y0": float(ys.min()),
                 "x1": float(xs.max() + 1), "y1": float(ys.max() + 1), "area": int(mask.sum()),
                 "rle": encode_rle(mask)}
            )  # fmt: skip
        if not instances:
            rows.append(
                {"frame": frame, "time": frame / fps, "instance": -1, "track_id": -1,
                 "class_id": -1, "score": 0.0, "x0": 0.0, "y0": 0.0, "x1": 0.0, "y1": 0.0,
                 "area": 0, "rle": None}
            )  # fmt: skip
    return rows_frame(rows)


def write_truth_table(truth_mkv: Path, video: Path, out: Path) -> Path:
    """Write :func:`truth_table` of ``truth_mkv`` (at ``video``'s frame rate) to ``out``."""
    from mosaicflow.io import write_parquet
    from mosaicflow.video.decode import probe_video

    write_parquet(out, truth_table(truth_mkv, probe_video(video).fps))
    return Path(out)
