"""Find the mosaics of a video with a trained mosaic detector.

Writes, in the output folder:

- ``mosaics.parquet``: per frame the mosaic masks in the ``regions.parquet`` format
  (:mod:`mosaicflow.yolo.infer`: COCO RLE masks, boxes, scores; one ``instance = -1`` row
  for a frame without a mosaic; ``track_id`` -1, nothing is tracked);
- ``overlay.mp4``: the video with the masks tinted red and outlined;
- ``summary.json``: counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mosaicflow.yolo.adapter import YoloModel, open_model

log = logging.getLogger(__name__)

DETECT_VERSION = 1
#: The command whose outputs :func:`detect_mosaics` writes (named by the folder's marker).
COMMAND = "detect"
#: Ultralytics' settings folder inside the output folder (not an output).
YOLO_CONFIG = ".yolo_config"


@dataclass(frozen=True)
class DetectResult:
    """Summary of one ``detect`` run (also ``summary.json``)."""

    video: str
    model: str
    version: int
    frames: int
    frames_with_mosaic: int
    mosaics: int
    height: int
    width: int


def load_detector(
    model_path: Path,
    origin: str | None = None,
    *,
    config_dir: Path | None = None,
    threads: int = 1,
    device: str = "auto",
) -> YoloModel:
    """Load a YOLO segmentation model, failing with a message that names the file.

    Args:
        model_path: the ``.pt`` or ``.onnx`` model.
        origin: the option or config key it came from (named in errors).
        config_dir, threads, device: see :func:`~mosaicflow.yolo.adapter.open_model`.

    Raises:
        ModelFileError: the file is missing, unsafe (:class:`~mosaicflow.yolo.checkpoint.
            UnsafeCheckpointError`), an ONNX file ONNX Runtime cannot read, or not a YOLO
            segmentation model.
    """
    return open_model(
        model_path, task="segment", config_dir=config_dir, threads=threads, device=device,
        origin=origin, suffixes=(".pt", ".onnx"),
    )  # fmt: skip


def overlay(image_bgr: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """The frame with ``masks`` tinted red and outlined (BGR)."""
    out = image_bgr.copy()
    for mask in masks:
        tint = out[mask].astype(np.float32) * 0.5 + np.array([0, 0, 255], np.float32) * 0.5
        out[mask] = tint.astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)  # fmt: skip
        cv2.drawContours(out, contours, -1, (0, 0, 255), 1)
    return out


def _writer(path: Path, fps: float, width: int, height: int) -> Iterator[Any]:
    """Generator-based H.264 writer: send BGR frames, close to finish."""
    import av

    from mosaicflow.video.x264 import reproducible_x264_options

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = reproducible_x264_options(crf="20", preset="veryfast")
        index = 0
        while True:
            image = yield
            if image is None:
                break
            if image.shape[:2] != (stream.height, stream.width):
                pad_h, pad_w = stream.height - image.shape[0], stream.width - image.shape[1]
                image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = index
            index += 1
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    yield


def detect_mosaics(
    model_path: Path,
    video: Path,
    out_dir: Path,
    *,
    conf: float = 0.25,
    iou: float = 0.5,
    imgsz: int = 640,
    device: str = "auto",
    batch: int = 16,
    threads: int = 2,
    origin: str | None = None,
) -> DetectResult:
    """Run the mosaic detector on every frame of ``video``; write masks, overlay, summary.

    Args:
        model_path: the detector's ``best.pt`` (or ``best.onnx``).
        video: the video file.
        out_dir: output folder: new, empty or an earlier output of ``detect`` (its three files
            are replaced), apart from the video and the model.
        conf, iou, imgsz, device, batch: inference settings.
        threads: CPU threads.
        origin: the option ``model_path`` came from (named in errors).

    Returns:
        The summary.

    Raises:
        ValueError: naming the file for a model that is not a YOLO segmentation model or a
            video that cannot be decoded; naming the folder when it may not be written.
    """
    from mosaicflow.video.decode import probe_video
    from mosaicflow.writing import writing_into

    inputs = [video, model_path]
    with writing_into(out_dir, COMMAND, inputs, scratch=[YOLO_CONFIG]) as out_dir:
        probe = probe_video(video)  # fails naming the file before the model loads
        model = load_detector(
            model_path, origin, config_dir=out_dir / YOLO_CONFIG, threads=threads, device=device
        )
        return _detect_frames(
            model, video, model_path, probe, out_dir, conf=conf, iou=iou, imgsz=imgsz,
            batch=batch, threads=threads,
        )  # fmt: skip


def _detect_frames(
    model: YoloModel, video: Path, model_path: Path, probe: Any, out_dir: Path, *,
    conf: float, iou: float, imgsz: int, batch: int, threads: int,
) -> DetectResult:  # fmt: skip
    """Detect on every frame of ``video`` and write the three outputs into ``out_dir``."""
    from mosaicflow.io import atomic_path, write_json, write_parquet
    from mosaicflow.progress import ProgressLine
    from mosaicflow.video.decode import iter_frames
    from mosaicflow.yolo.infer import result_rows, rows_frame
    from mosaicflow.yolo.scoring import batched

    fps = float(getattr(probe, "fps", 0) or 25.0)
    rows: list[dict[str, Any]] = []
    height = width = frames = 0
    line = ProgressLine(log, video.name, getattr(probe, "frame_count", None) or None,
                        unit="frames")  # fmt: skip
    with atomic_path(out_dir / "overlay.mp4") as tmp, line:
        writer = None
        for chunk in batched(iter_frames(video, None, fmt="bgr24", threads=threads), batch):
            results = model.predict(
                [image for _, image in chunk], conf=conf, iou=iou, imgsz=imgsz, retina_masks=True
            )
            for (number, image), result in zip(chunk, results, strict=True):
                height, width = image.shape[:2]
                if writer is None:
                    writer = _writer(tmp, fps, width, height)
                    next(writer)
                frame_rows = result_rows(number, number / fps, result)
                rows.extend(frame_rows)
                masks = []
                if result.masks is not None:
                    masks = [m for m in result.masks.data.cpu().numpy() > 0.5 if m.any()]
                writer.send(overlay(image, masks))
                frames += 1
                line.update(1)
        if writer is None:
            raise ValueError(f"{video}: no frames decoded")
        writer.send(None)
    if probe.frame_count and frames < probe.frame_count:  # damaged: decoding stopped early
        log.warning("%s: %d of the %d frames the file announces were decoded (a damaged or "
                    "truncated file, or frames a cut file's edit list hides)", video, frames,
                    probe.frame_count)  # fmt: skip
    table = rows_frame(rows)
    write_parquet(out_dir / "mosaics.parquet", table)
    found = table[table["instance"] >= 0]
    result = DetectResult(
        video=str(video), model=str(model_path), version=DETECT_VERSION, frames=frames,
        frames_with_mosaic=int(found["frame"].nunique()), mosaics=len(found),
        height=height, width=width,
    )  # fmt: skip
    write_json(out_dir / "summary.json", asdict(result))
    return result
