"""``restore_video``: decode, detect, track, cut, crop, restore, blend and encode, streaming.

Frames wait in a :class:`FrameBuffer` only until no open clip can still include them: a frame
is written as soon as it is older than the first frame of every open clip. Clips are at most
``max_clip_frames`` long and a clip is restored the moment it ends, so the buffer never holds
more than ``max_clip_frames + max_gap_frames`` frames (plus the detection batch being worked
on), whatever the video's length. A frame no clip covers is encoded from its decoded planes
unchanged; in a restored frame only the pixels the feathered blend touched change (see
:mod:`~mosaicflow.inference.video_io`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mosaicflow.inference.blend import FeatherSettings, blend_into, feather_weights
from mosaicflow.inference.crop import CropSettings, crop_frame, plan_clip_crop, uncrop_frame
from mosaicflow.inference.masks import MaskRecorder
from mosaicflow.inference.protocols import Detector, Restorer
from mosaicflow.inference.tracks import Clip, ClipCutter, Instance, instances_from_detections
from mosaicflow.inference.video_io import (
    VideoSink,
    VideoSource,
    luma,
    merge_touched,
    rgb_to_yuv,
    yuv_to_rgb,
)
from mosaicflow.video.scenes import SceneDetector

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RestoreSettings:
    """Knobs of :func:`restore_video`.

    Attributes:
        max_clip_frames: longest clip given to the restorer (also bounds the frame buffer).
        batch: frames per detector call.
        min_track_iou: box IoU for a detection to continue a track.
        max_gap_frames: most consecutive frames a track may miss and continue; the missed
            frames are restored with the union of the masks around the gap (0: never bridged).
        scene_threshold: scene-cut score (FFmpeg ``scdet`` scale, 0-100) that ends every clip.
        crop: crop border, squaring and smoothing.
        feather: blending band.
        crf: x264 constant rate factor of the output (0 = lossless).
        preset: x264 preset.
    """

    max_clip_frames: int = 180
    batch: int = 8
    min_track_iou: float = 0.1
    max_gap_frames: int = 4
    scene_threshold: float = 10.0
    crop: CropSettings = field(default_factory=CropSettings)
    feather: FeatherSettings = field(default_factory=FeatherSettings)
    crf: int = 18
    preset: str = "medium"

    def __post_init__(self) -> None:
        if self.max_clip_frames < 1 or self.batch < 1:
            raise ValueError("max_clip_frames and batch must be >= 1")
        if self.max_gap_frames < 0:
            raise ValueError(f"max_gap_frames must be >= 0, got {self.max_gap_frames}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {self.crf}")


@dataclass
class BufferedFrame:
    """A decoded frame waiting to be written.

    Attributes:
        yuv: the decoded I420 planes.
        composite: RGB frame with the restored clips blended in (``None``: untouched).
        touched: bool ``(H, W)`` pixels the blends changed (``None``: untouched).
    """

    yuv: np.ndarray
    composite: np.ndarray | None = None
    touched: np.ndarray | None = None

    def planes(self) -> np.ndarray:
        """The planes to encode: the decoded ones, with the touched pixels replaced."""
        if self.composite is None or self.touched is None:
            return self.yuv
        return merge_touched(self.yuv, rgb_to_yuv(self.composite), self.touched)


class FrameBuffer:
    """Frames decoded but not yet written, by frame number; records its largest size."""

    def __init__(self) -> None:
        self._frames: dict[int, BufferedFrame] = {}
        self.peak = 0

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, number: int, yuv: np.ndarray) -> None:
        """Hold frame ``number``."""
        self._frames[number] = BufferedFrame(yuv)
        self.peak = max(self.peak, len(self._frames))

    def get(self, number: int) -> BufferedFrame:
        """The held frame ``number``."""
        return self._frames[number]

    def pop_before(self, stop: int | None) -> Iterator[tuple[int, BufferedFrame]]:
        """Remove and yield, in order, the frames numbered below ``stop`` (all for ``None``)."""
        for number in sorted(self._frames):
            if stop is not None and number >= stop:
                return
            yield number, self._frames.pop(number)


@dataclass(frozen=True)
class RestoreResult:
    """Summary of one restored video (``to_dict()`` for JSON).

    Attributes:
        input, output: the videos.
        masks: the detections table (``None`` when not written).
        frames: frames decoded and written.
        frames_with_detections: frames where the detector found something.
        restored_frames: frames a restored clip was blended into.
        passthrough_frames: frames written from their decoded planes unchanged.
        passthrough_share: ``passthrough_frames / frames``.
        clips: clips restored.
        clip_reasons: clips by why they ended (``gap``, ``max_length``, ``scene_cut``, ``end``).
        seconds: wall time.
        fps: frames processed per second.
        video_fps: the source's (and output's) frame rate.
        width, height: frame size.
        audio_packets: audio packets copied.
        peak_buffered_frames: most frames held at once.
        settings: the settings used.
    """

    input: str
    output: str
    masks: str | None
    frames: int
    frames_with_detections: int
    restored_frames: int
    passthrough_frames: int
    passthrough_share: float
    clips: int
    clip_reasons: dict[str, int]
    seconds: float
    fps: float
    video_fps: float
    width: int
    height: int
    audio_packets: int
    peak_buffered_frames: int
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` consecutive items (the last may be shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _mask_in_window(inst: Instance, window: tuple[int, int, int, int]) -> np.ndarray:
    """The instance's mask inside the ``window`` box (bool, the window's size)."""
    x0, y0, x1, y1 = window
    out = np.zeros((y1 - y0, x1 - x0), bool)
    bx0, by0, bx1, by1 = inst.box
    ix0, iy0, ix1, iy1 = max(bx0, x0), max(by0, y0), min(bx1, x1), min(by1, y1)
    if ix0 < ix1 and iy0 < iy1:
        out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = inst.mask[
            iy0 - by0 : iy1 - by0, ix0 - bx0 : ix1 - bx0
        ]
    return out


def restore_clip(
    clip: Clip, buffer: FrameBuffer, restorer: Restorer, settings: RestoreSettings
) -> None:
    """Crop a clip from the buffered frames, restore it and blend it into them.

    Crops come from the decoded frames (not from earlier composites), so clips of two
    overlapping tracks each see the original mosaic.
    """
    first = buffer.get(clip.start).yuv
    frame_shape = (first.shape[0] * 2 // 3, first.shape[1])
    crop = plan_clip_crop(clip.boxes(), frame_shape, restorer.input_size, settings.crop)
    originals = [yuv_to_rgb(buffer.get(n).yuv) for n in clip.frames]
    crops = np.stack(
        [crop_frame(rgb, crop.plan.boxes[i], crop.plan) for i, rgb in enumerate(originals)]
    )
    restored = np.asarray(restorer.restore(crops))
    if restored.shape != crops.shape or restored.dtype != np.uint8:
        raise ValueError(
            f"the restorer returned {restored.shape} {restored.dtype} for a clip of "
            f"{crops.shape} uint8"
        )
    for i, number in enumerate(clip.frames):
        box = tuple(int(v) for v in crop.plan.boxes[i])
        patch = uncrop_frame(restored[i], crop.plan)
        mask = _mask_in_window(clip.instances[i], box)  # type: ignore[arg-type]
        weights = feather_weights(mask, crop.border_px, settings.feather)
        entry = buffer.get(number)
        if entry.composite is None or entry.touched is None:
            entry.composite = originals[i]
            entry.touched = np.zeros(frame_shape, bool)
        touched = blend_into(entry.composite, patch, weights, box)  # type: ignore[arg-type]
        x0, y0, x1, y1 = box
        entry.touched[y0:y1, x0:x1] |= touched


def restore_video(
    input_video: str | Path,
    output_video: str | Path,
    detector: Detector,
    restorer: Restorer,
    settings: RestoreSettings | None = None,
    *,
    masks_out: str | Path | None = None,
    progress: bool = False,
) -> RestoreResult:
    """Restore the mosaics of a video.

    Args:
        input_video: the video (any container and codec PyAV decodes).
        output_video: the restored video (x264 in the suffix's container, the source's frame
            rate and audio stream), written atomically.
        detector: finds the mosaic (:class:`~mosaicflow.inference.detector.YoloDetector`).
        restorer: restores crops (:class:`~mosaicflow.inference.restorer.BasicVSRRestorer`).
        settings: clip, crop, blend and encoder settings (defaults: :class:`RestoreSettings`).
        masks_out: also write the per-frame detections there (``regions.parquet`` format).
        progress: show a progress bar (tqdm, on stderr) with the frame rate.

    Returns:
        The :class:`RestoreResult`.

    Raises:
        VideoDecodeError: the input cannot be decoded (a ``ValueError`` naming the file).
        ValueError: the detector or restorer returned something of the wrong shape.
    """
    from tqdm import tqdm

    settings = settings or RestoreSettings()
    started = time.monotonic()
    reasons: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    buffer = FrameBuffer()
    cutter = ClipCutter(settings.max_clip_frames, settings.min_track_iou, settings.max_gap_frames)
    scenes = SceneDetector(settings.scene_threshold)
    with VideoSource(input_video) as source:
        height, width = source.height, source.width
        recorder = MaskRecorder(height, width, float(source.rate)) if masks_out else None
        sink = VideoSink(
            output_video,
            width,
            height,
            source.rate,
            source.audio,
            crf=settings.crf,
            preset=settings.preset,
            rotation=source.rotation,
            first_pts=round(source.start_time * source.rate),
        )
        bar = tqdm(
            total=source.frame_count or None,
            unit="frame",
            desc=Path(input_video).name,
            disable=not progress,
            dynamic_ncols=True,
        )
        with sink, bar:

            def restore_all(clips: list[Clip]) -> None:
                for clip in clips:
                    restore_clip(clip, buffer, restorer, settings)
                    reasons[clip.reason] += 1

            def write_before(stop: int | None) -> None:
                for _, entry in buffer.pop_before(stop):
                    counts["restored" if entry.composite is not None else "passthrough"] += 1
                    sink.write(entry.planes())
                    bar.update(1)

            numbered = enumerate(source.frames(on_audio=sink.write_audio))
            for chunk in batched(numbered, settings.batch):
                found = detector.detect([yuv_to_rgb(yuv) for _, yuv in chunk])
                if len(found) != len(chunk):
                    raise ValueError(
                        f"the detector returned {len(found)} results for {len(chunk)} frames"
                    )
                for (number, yuv), detections in zip(chunk, found, strict=True):
                    if detections.masks.shape[1:] != (height, width):
                        raise ValueError(
                            f"the detector returned masks of {detections.masks.shape[1:]} for "
                            f"frames of {(height, width)}"
                        )
                    if scenes.push(luma(yuv))[1]:
                        restore_all(cutter.cut_scene())
                    buffer.add(number, yuv)
                    instances = instances_from_detections(detections)
                    restore_all(cutter.push(number, instances))
                    counts["detected"] += bool(instances)
                    if recorder is not None:
                        recorder.add(number, instances)
                    open_start = cutter.earliest_open_frame()
                    write_before(number + 1 if open_start is None else open_start)
                bar.set_postfix(clips=sum(reasons.values()), refresh=False)
            restore_all(cutter.finish())
            write_before(None)
            audio_packets = sink.audio_packets
        if recorder is not None and masks_out is not None:
            recorder.write(masks_out)
        frames = sink.frames_written
        video_fps = float(source.rate)
    seconds = time.monotonic() - started
    result = RestoreResult(
        input=str(input_video),
        output=str(output_video),
        masks=str(masks_out) if masks_out else None,
        frames=frames,
        frames_with_detections=counts["detected"],
        restored_frames=counts["restored"],
        passthrough_frames=counts["passthrough"],
        passthrough_share=round(counts["passthrough"] / frames, 6) if frames else 1.0,
        clips=sum(reasons.values()),
        clip_reasons={reason: reasons[reason] for reason in sorted(reasons)},
        seconds=round(seconds, 3),
        fps=round(frames / seconds, 3) if seconds > 0 else 0.0,
        video_fps=video_fps,
        width=width,
        height=height,
        audio_packets=audio_packets,
        peak_buffered_frames=buffer.peak,
        settings=asdict(settings),
    )
    log.info(
        "%s -> %s: %d frames (%d restored) in %d clips, %.1f fps",
        input_video,
        output_video,
        frames,
        counts["restored"],
        result.clips,
        result.fps,
    )
    return result
