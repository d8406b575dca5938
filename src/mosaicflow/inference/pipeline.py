"""``restore_video``: decode, detect, track, cut, crop, restore, blend and encode, streaming.

The work runs as a chain of stages (:mod:`~mosaicflow.inference.stages`), each in its own
thread with bounded queues between them (``pipelined``), or one after another in the caller's
thread: ``decode`` (frames, their RGB and the audio and subtitle packets read before each),
``detect`` (batches of frames, the instances and the scene cuts), ``track`` (tracks cut into
clips; holds the frames), ``crop``, ``restore`` (equal-length clips batched), ``blend`` (the
feathered paste, merged into the frame's planes) and ``encode`` (frames in order, with those
packets). The same items pass in the same order either way, so both give the same pixels.

Frames wait in a :class:`FrameBuffer` until no open clip can still include them: ``track``
releases a frame once it is older than the first frame of every open (or held) clip, and
``encode`` writes it once every clip before that release is blended (the queues keep the order).
Clips are at most ``max_clip_frames`` long and are restored the moment they end (or, with
``clip_batch`` > 1, once that many clips of one length wait), so the frames held are bounded
whatever the video's length: :meth:`RestoreSettings.frame_limit`. A frame no clip covers is
encoded from its decoded planes unchanged; in a restored frame only the pixels the feathered
blend touched change (see :mod:`~mosaicflow.inference.video_io`), and only the window they lie
in is converted (:mod:`~mosaicflow.inference.canvas`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.inference.blend import FeatherSettings, feather_weights
from mosaicflow.inference.canvas import CANVASES, Canvas
from mosaicflow.inference.crop import (
    ClipCrop,
    CropSettings,
    crop_frame,
    plan_clip_crop,
    uncrop_frame,
)
from mosaicflow.inference.masks import MaskRecorder
from mosaicflow.inference.protocols import BatchRestorer, Detector, Restorer
from mosaicflow.inference.stages import POLL_S, Stage, StageError, Stopped, run_stages
from mosaicflow.inference.tracks import Clip, ClipCutter, Instance, instances_from_detections
from mosaicflow.inference.video_io import VideoSink, VideoSource, luma, yuv_to_rgb
from mosaicflow.outputs import check_apart
from mosaicflow.progress import ProgressLine
from mosaicflow.video.encoders import Encoder, EncoderSettings, choose_encoder, cpu_cores
from mosaicflow.video.scenes import SceneDetector

log = logging.getLogger(__name__)

#: Frames shared by two clips of a track cut at ``max_length`` (crossfaded), unless set.
DEFAULT_OVERLAP = 8


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
        crf: x264 constant rate factor of the output (0 = lossless); NVENC's ``cq``.
        preset: x264 preset (NVENC: the matching p1-p7).
        codec: ``auto``, ``libx264``, ``h264_nvenc`` or ``hevc_nvenc``
            (:mod:`mosaicflow.video.encoders`).
        encoder_threads: x264 threads (0: every core).
        reproducible: single-thread libx264 with mbtree off: the same bytes on every run.
        clip_overlap_frames: frames two clips of a track cut at ``max_clip_frames`` share and
            crossfade over (``None``: :data:`DEFAULT_OVERLAP`, at most half a clip).
        clip_batch: clips of equal length restored in one forward pass (more hold more
            frames: see :meth:`frame_limit`).
        pipelined: run the stages in threads (else one after another in this thread).
        compositing: ``box`` (the blends' window only) or ``full_frame`` (the reference).
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
    codec: str = "auto"
    encoder_threads: int = 0
    reproducible: bool = False
    clip_overlap_frames: int | None = None
    clip_batch: int = 1
    pipelined: bool = True
    compositing: str = "box"

    def __post_init__(self) -> None:
        if self.max_clip_frames < 1 or self.batch < 1 or self.clip_batch < 1:
            raise ValueError("max_clip_frames, batch and clip_batch must be >= 1")
        if self.max_gap_frames < 0:
            raise ValueError(f"max_gap_frames must be >= 0, got {self.max_gap_frames}")
        if not 0 <= self.overlap_frames < self.max_clip_frames:
            raise ValueError(
                f"clip_overlap_frames must be in 0..max_clip_frames - 1, got "
                f"{self.clip_overlap_frames}"
            )
        if self.compositing not in CANVASES:
            raise ValueError(f"compositing must be one of {sorted(CANVASES)}")
        self.encoder_settings()  # validates codec, crf, preset, threads

    @property
    def overlap_frames(self) -> int:
        """Frames shared by consecutive clips of a track."""
        if self.clip_overlap_frames is None:
            return min(DEFAULT_OVERLAP, self.max_clip_frames // 2)
        return self.clip_overlap_frames

    def encoder_settings(self) -> EncoderSettings:
        """The output's :class:`~mosaicflow.video.encoders.EncoderSettings`."""
        return EncoderSettings(
            self.codec, self.crf, self.preset, self.encoder_threads, self.reproducible
        )

    def hold_limit(self) -> int:
        """Most frames ``track`` holds back (the open clips' and the clips waiting for a
        batch)."""
        return self.clip_batch * self.max_clip_frames + self.max_gap_frames

    def frame_limit(self) -> int:
        """Most frames buffered at once in a pipelined run: those held, one clip's worth in
        flight through crop, restore, blend and encode, and a detection batch."""
        return self.hold_limit() + self.max_clip_frames + self.batch


@dataclass
class BufferedFrame:
    """A decoded frame waiting to be written.

    Attributes:
        canvas: its planes and composite (:mod:`~mosaicflow.inference.canvas`).
        packets: audio and subtitle packets read before it (muxed just before it).
        pts: its presentation time in the source's time base (kept in the output).
        planes: the planes to encode, once its last clip is blended (``None`` before).
    """

    canvas: Canvas
    packets: list[Any]
    pts: int
    planes: np.ndarray | None = None


class FrameBuffer:
    """Frames decoded but not yet written, by frame number; records its largest size."""

    def __init__(self) -> None:
        self._frames: dict[int, BufferedFrame] = {}
        self._changed = threading.Condition()
        self._first = 0
        self.peak = 0

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, number: int, frame: BufferedFrame) -> None:
        """Hold frame ``number``."""
        with self._changed:
            self._frames[number] = frame
            self.peak = max(self.peak, len(self._frames))

    def get(self, number: int) -> BufferedFrame:
        """The held frame ``number``."""
        return self._frames[number]

    def numbers(self, start: int, stop: int | None) -> range:
        """Held frame numbers from ``start`` up to ``stop`` (``None``: the last held)."""
        if stop is None:
            with self._changed:
                stop = max(self._frames, default=start - 1) + 1
        return range(start, stop)

    def pop_before(self, stop: int | None) -> Iterator[tuple[int, BufferedFrame]]:
        """Remove and yield, in order, the frames numbered below ``stop`` (all for ``None``)."""
        while self._first in self._frames and (stop is None or self._first < stop):
            with self._changed:
                number = self._first
                frame = self._frames.pop(number)
                self._first += 1
                self._changed.notify_all()
            yield number, frame

    def wait_for_room(self, limit: int, stop: threading.Event) -> float:
        """Block while ``limit`` frames or more are held; returns the seconds waited.

        Raises:
            Stopped: ``stop`` was set (the run failed elsewhere).
        """
        started = time.perf_counter()
        with self._changed:
            while len(self._frames) >= limit:
                if stop.is_set():
                    raise Stopped
                self._changed.wait(POLL_S)
        return time.perf_counter() - started


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
        audio_packets: audio packets read from the source and written (copied or transcoded),
            all audio tracks together.
        audio: how each audio track was written, joined by commas: ``copy (<codec>)``, or
            ``aac from <codec>`` (a codec the output container cannot hold); None: no audio.
        subtitles: how each subtitle track was written, joined by commas: ``copy (<codec>)``,
            or ``mov_text from <codec>`` (a text codec the container cannot hold, converted to
            its own); None: no subtitles.
        dropped_streams: source streams the output does not carry (``#<index> <type>
            (<codec>)``): attachments and data streams, and subtitles the container cannot
            hold in any form.
        peak_buffered_frames: most frames held at once.
        encoder: the FFmpeg encoder of the output.
        stage_seconds: seconds each stage spent working (the busiest bounds a pipelined run).
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
    audio: str | None
    subtitles: str | None
    dropped_streams: list[str]
    peak_buffered_frames: int
    encoder: str
    stage_seconds: dict[str, float]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


# -- the items that travel between the stages ---------------------------------------------------
@dataclass
class Decoded:
    """A decoded frame (its planes and the detector's RGB) and the audio and subtitle packets
    read before it."""

    number: int
    pts: int
    yuv: np.ndarray
    packets: list[Any]
    rgb: np.ndarray


@dataclass
class Detected:
    """A frame with its instances; ``cut``: it starts a new scene."""

    number: int
    pts: int
    yuv: np.ndarray
    packets: list[Any]
    instances: list[Instance]
    cut: bool


@dataclass
class StreamTail:
    """The audio and subtitle packets after the last frame (ends the stream)."""

    packets: list[Any]


@dataclass
class ClipGroup:
    """Clips dispatched together, in the order they ended (equal lengths restored batched)."""

    clips: list[Any]


@dataclass
class CroppedClip:
    """A clip, its crop plan and its crops ``(T, S, S, 3)`` (then the restored crops)."""

    clip: Clip
    crop: ClipCrop
    crops: np.ndarray


@dataclass
class Release:
    """Every frame below ``stop`` (all for ``None``) can be written once the clips before this
    item are blended; ``packets``: audio and subtitle packets to mux after them (the tail)."""

    stop: int | None
    packets: list[Any] = field(default_factory=list)


def _span(first: int, last: int) -> str:
    return f"frame {first}" if first == last else f"frames {first}-{last}"


def where(item: Any) -> str:
    """The frames an item covers (for error messages)."""
    if isinstance(item, Decoded | Detected):
        return f"frame {item.number}"
    if isinstance(item, CroppedClip):
        return _span(item.clip.start, item.clip.end)
    if isinstance(item, ClipGroup):
        clips = [c.clip if isinstance(c, CroppedClip) else c for c in item.clips]
        return _span(min(c.start for c in clips), max(c.end for c in clips))
    if isinstance(item, Release) and item.stop is not None:
        return f"the frames before {item.stop}"
    return "the end of the video"


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


def crossfade(weights: np.ndarray, index: int, lead_in: int) -> np.ndarray:
    """The weights of a clip's frame ``index``: ramped up over the ``lead_in`` frames it shares
    with the previous clip of its track (which was blended first), full after them."""
    if index >= lead_in:
        return weights
    return weights * np.float32((index + 1) / (lead_in + 1))


def _group_batches(lengths: list[int], size: int) -> list[list[int]]:
    """Indices of clips restored together: in order, each with up to ``size - 1`` later clips of
    the same length."""
    batches: list[list[int]] = []
    taken: set[int] = set()
    for i, length in enumerate(lengths):
        if i in taken:
            continue
        batch = [i]
        for j in range(i + 1, len(lengths)):
            if len(batch) < size and j not in taken and lengths[j] == length:
                batch.append(j)
        taken.update(batch)
        batches.append(batch)
    return batches


class _Run:
    """The stages of one restore run and the state they share."""

    def __init__(
        self,
        source: VideoSource,
        sink: VideoSink,
        detector: Detector,
        restorer: Restorer,
        settings: RestoreSettings,
        recorder: MaskRecorder | None,
        bar: Any,
        stop: threading.Event,
    ) -> None:
        self.source, self.sink, self.detector, self.restorer = source, sink, detector, restorer
        self.settings, self.recorder, self.bar, self.stop = settings, recorder, bar, stop
        self.buffer = FrameBuffer()
        self.canvas = CANVASES[settings.compositing]
        self.cutter = ClipCutter(
            settings.max_clip_frames,
            settings.min_track_iou,
            settings.max_gap_frames,
            settings.overlap_frames,
        )
        self.scenes = SceneDetector(settings.scene_threshold)
        # clips wait for a batch only when the restorer takes batches
        self.clip_batch = settings.clip_batch if isinstance(restorer, BatchRestorer) else 1
        self.reasons: Counter[str] = Counter()  # track's
        self.detected = 0  # track's: frames with an instance
        self.written: Counter[str] = Counter()  # encode's: restored and passthrough frames
        self._waiting: list[Decoded] = []  # detect: the batch being filled
        self._pending: list[Clip] = []  # track: ended clips waiting for a batch
        self._released = 0  # track: frames below it are released
        self._finished = 0  # blend: frames below it have their planes
        self.waited = 0.0  # track: seconds waiting for room in the buffer (not work)
        self.shape = (source.height, source.width)

    def stages(self) -> list[Stage]:
        """The chain after ``decode``, with its queue sizes."""
        frames = 2 * self.settings.batch
        small = self.settings.frame_limit()  # clips and releases: the buffer bounds memory
        return [
            Stage("detect", self.detect, self.detect_rest, queue_size=frames),
            Stage("track", self.track, queue_size=frames),
            Stage("crop", self.crop, queue_size=small),
            Stage("restore", self.restore, queue_size=2),
            Stage("blend", self.blend, queue_size=2),
            Stage("encode", self.encode, queue_size=small),
        ]

    # -- decode -------------------------------------------------------------------------------
    def decode(self) -> Iterator[Decoded | StreamTail]:
        """Frames in order, each with the packets demuxed before it (and converted to RGB
        here, which balances the work of this thread and the detector's)."""
        packets: list[Any] = []
        for number, (pts, yuv) in enumerate(self.source.timed_frames(packets.append)):
            yield Decoded(number, pts, yuv, packets[:], yuv_to_rgb(yuv))
            packets.clear()
        yield StreamTail(packets[:])

    # -- detect -------------------------------------------------------------------------------
    def detect(self, item: Decoded | StreamTail) -> Iterator[Detected | StreamTail]:
        """Batch frames for the detector; instances and scene cuts per frame."""
        if isinstance(item, StreamTail):
            yield from self.detect_rest()
            yield item
            return
        self._waiting.append(item)
        if len(self._waiting) >= self.settings.batch:
            yield from self.detect_rest()

    def detect_rest(self) -> Iterator[Detected]:
        """Detect in the frames waiting for a full batch."""
        chunk, self._waiting = self._waiting, []
        if not chunk:
            return
        try:
            found = self.detector.detect([frame.rgb for frame in chunk])
            if len(found) != len(chunk):
                raise ValueError(
                    f"the detector returned {len(found)} results for {len(chunk)} frames"
                )
            for detections in found:
                if detections.masks.shape[1:] != self.shape:
                    raise ValueError(
                        f"the detector returned masks of {detections.masks.shape[1:]} for "
                        f"frames of {self.shape}"
                    )
        except Exception as err:
            raise StageError("detect", _span(chunk[0].number, chunk[-1].number), err) from err
        for frame, detections in zip(chunk, found, strict=True):
            cut = self.scenes.push(luma(frame.yuv))[1]
            instances = instances_from_detections(detections)
            yield Detected(frame.number, frame.pts, frame.yuv, frame.packets, instances, cut)

    # -- track --------------------------------------------------------------------------------
    def track(self, item: Detected | StreamTail) -> Iterator[ClipGroup | Release]:
        """Cut clips, hold the frames they may still need, release the others."""
        if isinstance(item, StreamTail):
            yield from self._dispatch(self.cutter.finish(), force=True)
            yield Release(None, item.packets)
            return
        if item.cut:
            yield from self._dispatch(self.cutter.cut_scene())
        if self.settings.pipelined:
            self.waited += self.buffer.wait_for_room(self.settings.frame_limit(), self.stop)
        self.buffer.add(item.number, BufferedFrame(self.canvas(item.yuv), item.packets, item.pts))
        yield from self._dispatch(self.cutter.push(item.number, item.instances))
        self.detected += bool(item.instances)
        if self.recorder is not None:
            self.recorder.add(item.number, item.instances, float(item.pts * self.source.time_base))
        stop = self._release_point(item.number)
        if self._pending and item.number + 1 - stop >= self.settings.hold_limit():
            yield from self._dispatch([], force=True)
            stop = self._release_point(item.number)
        if stop > self._released:
            self._released = stop
            yield Release(stop)

    def _release_point(self, number: int) -> int:
        starts = [clip.start for clip in self._pending]
        open_start = self.cutter.earliest_open_frame()
        if open_start is not None:
            starts.append(open_start)
        return min(starts, default=number + 1)

    def _dispatch(self, clips: list[Clip], force: bool = False) -> Iterator[ClipGroup]:
        """Send the ended clips on, or hold them until ``clip_batch`` of one length wait."""
        for clip in clips:
            self.reasons[clip.reason] += 1
        self._pending += clips
        if not self._pending:
            return
        lengths = Counter(len(clip.instances) for clip in self._pending)
        if force or max(lengths.values()) >= self.clip_batch:
            group, self._pending = self._pending, []
            yield ClipGroup(group)

    # -- crop ---------------------------------------------------------------------------------
    def crop(self, item: ClipGroup | Release) -> Iterator[ClipGroup | Release]:
        """Cut each clip's crops from the decoded frames (never from composites)."""
        if isinstance(item, ClipGroup):
            item = ClipGroup([self._crop_clip(clip) for clip in item.clips])
        yield item

    def _crop_clip(self, clip: Clip) -> CroppedClip:
        size = self.restorer.input_size
        crop = plan_clip_crop(clip.boxes(), self.shape, size, self.settings.crop)
        crops = []
        for i, number in enumerate(clip.frames):
            x0, y0, x1, y1 = (int(v) for v in crop.plan.boxes[i])
            rgb = self.buffer.get(number).canvas.rgb((x0, y0, x1, y1))
            crops.append(crop_frame(rgb, np.array([0, 0, x1 - x0, y1 - y0]), crop.plan))
        return CroppedClip(clip, crop, np.stack(crops))

    # -- restore ------------------------------------------------------------------------------
    def restore(self, item: ClipGroup | Release) -> Iterator[CroppedClip | Release]:
        """Restore a group's clips, equal lengths batched; the clips go on in their order."""
        if isinstance(item, Release):
            yield item
            return
        clips: list[CroppedClip] = item.clips
        batch_restore = self.restorer if isinstance(self.restorer, BatchRestorer) else None
        for indices in _group_batches([len(c.crops) for c in clips], self.clip_batch):
            if batch_restore is not None and len(indices) > 1:
                stacked = np.stack([clips[i].crops for i in indices])
                outputs = list(np.asarray(batch_restore.restore_batch(stacked)))
            else:
                outputs = [np.asarray(self.restorer.restore(clips[indices[0]].crops))]
            for i, restored in zip(indices, outputs, strict=True):
                crops = clips[i].crops
                if restored.shape != crops.shape or restored.dtype != np.uint8:
                    raise ValueError(
                        f"the restorer returned {restored.shape} {restored.dtype} for a clip "
                        f"of {crops.shape} uint8"
                    )
                clips[i].crops = restored
        yield from clips

    # -- blend --------------------------------------------------------------------------------
    def blend(self, item: CroppedClip | Release) -> Iterator[Release]:
        """Paste a restored clip into its frames; at a release, merge the released frames."""
        if isinstance(item, CroppedClip):
            clip, crop = item.clip, item.crop
            for i, number in enumerate(clip.frames):
                box = tuple(int(v) for v in crop.plan.boxes[i])
                patch = uncrop_frame(item.crops[i], crop.plan)
                mask = _mask_in_window(clip.instances[i], box)  # type: ignore[arg-type]
                weights = feather_weights(mask, crop.border_px, self.settings.feather)
                weights = crossfade(weights, i, clip.lead_in)
                self.buffer.get(number).canvas.blend(patch, weights, box)  # type: ignore[arg-type]
            return
        numbers = self.buffer.numbers(self._finished, item.stop)
        for number in numbers:
            frame = self.buffer.get(number)
            frame.planes = frame.canvas.planes()
        self._finished = max(self._finished, numbers.stop)
        yield item

    # -- encode -------------------------------------------------------------------------------
    def encode(self, item: Release) -> Iterable[None]:
        """Write the released frames in order, each after its audio and subtitle packets (a
        failure names the frame)."""
        for number, frame in self.buffer.pop_before(item.stop):
            try:
                for packet in frame.packets:
                    self.sink.write_packet(packet)
                planes = frame.planes if frame.planes is not None else frame.canvas.planes()
                self.sink.write(planes, frame.pts)
            except Exception as err:
                raise StageError("encode", f"frame {number}", err) from err
            self.written["restored" if frame.canvas.blends else "passthrough"] += 1
            self.bar.update(1)
        for packet in item.packets:
            self.sink.write_packet(packet)
        return ()


def model_threads(pipelined: bool) -> int:
    """Torch threads for the models: every core. On a CPU the restorer bounds the command; with
    the other stages overlapping it on 2 cores, the demo restorer at 720p took 6.6 s on two
    threads against 7.5 s on one (``bench/restore_pipeline.py``), so the overlap is given the
    cores the models leave idle rather than a core of its own. ``pipelined`` is kept for the
    callers that pick threads per mode."""
    del pipelined
    return cpu_cores()


def _cuda_device(restorer: Restorer) -> Any:
    """The restorer's CUDA device (a ``torch.device``), or None off CUDA."""
    device = getattr(restorer, "device", None)
    return device if getattr(device, "type", None) == "cuda" else None


@dataclass(frozen=True)
class _Streamed:
    """What streaming a video through the stages leaves for its :class:`RestoreResult`."""

    run: _Run
    busy: dict[str, float]
    frames: int
    video_fps: float
    width: int
    height: int
    audio_packets: int
    audio: str | None
    subtitles: str | None
    dropped_streams: list[str]
    encoder: Encoder


def progress_bar(name: str, total: int | None, shown: bool) -> Any:
    """The frames' progress: a tqdm bar on a terminal; where stderr is a file or pipe (a job's
    log, ``2> log``), a log line a minute instead of a line of carriage returns; nothing when
    not ``shown``."""
    from tqdm import tqdm

    if shown and not sys.stderr.isatty():
        return ProgressLine(log, name, total, unit="frames")
    return tqdm(total=total, unit="frame", desc=name, disable=not shown, dynamic_ncols=True)


def _stream(
    input_video: str | Path,
    output_video: str | Path,
    detector: Detector,
    restorer: Restorer,
    settings: RestoreSettings,
    masks_out: str | Path | None,
    progress: bool,
) -> _Streamed:
    """Decode, restore and encode the video through the stages, with the encoder chosen for
    its frame size; write the detections if asked."""
    stop = threading.Event()
    with VideoSource(input_video) as source:
        height, width = source.height, source.width
        cuda = _cuda_device(restorer)
        encoder = choose_encoder(
            settings.encoder_settings(),
            gpu=cuda is not None,
            size=(width, height),
            gpu_index=None if cuda is None else cuda.index or 0,
        )
        recorder = MaskRecorder(height, width) if masks_out else None
        sink = VideoSink(
            output_video,
            width,
            height,
            source.rate,
            source.carried,
            encoder=encoder,
            rotation=source.rotation,
            time_base=source.time_base,
            identity=source.identity,
        )
        bar = progress_bar(Path(input_video).name, source.frame_count or None, progress)
        with sink, bar:
            run = _Run(source, sink, detector, restorer, settings, recorder, bar, stop)
            busy = run_stages(
                run.decode(),
                run.stages(),
                threaded=settings.pipelined,
                where=where,
                stop=stop,
            )
            busy["track"] -= run.waited
            dropped = source.left_out + sink.dropped
            carried = (sink.audio_packets, sink.audio, sink.subtitles, dropped)
        if recorder is not None and masks_out is not None:
            recorder.write(masks_out)
        frames = sink.frames_written
        video_fps = float(source.rate)
    return _Streamed(run, busy, frames, video_fps, width, height, *carried, encoder)


def _restore_result(
    input_video: str | Path,
    output_video: str | Path,
    masks_out: str | Path | None,
    settings: RestoreSettings,
    encoder: Encoder,
    done: _Streamed,
    seconds: float,
) -> RestoreResult:
    """The :class:`RestoreResult` of a finished run that took ``seconds``."""
    frames, run, busy = done.frames, done.run, done.busy
    counts, reasons = run.written, run.reasons
    return RestoreResult(
        input=str(input_video),
        output=str(output_video),
        masks=str(masks_out) if masks_out else None,
        frames=frames,
        frames_with_detections=run.detected,
        restored_frames=counts["restored"],
        passthrough_frames=counts["passthrough"],
        passthrough_share=round(counts["passthrough"] / frames, 6) if frames else 1.0,
        clips=sum(reasons.values()),
        clip_reasons={reason: reasons[reason] for reason in sorted(reasons)},
        seconds=round(seconds, 3),
        fps=round(frames / seconds, 3) if seconds > 0 else 0.0,
        video_fps=done.video_fps,
        width=done.width,
        height=done.height,
        audio_packets=done.audio_packets,
        audio=done.audio,
        subtitles=done.subtitles,
        dropped_streams=done.dropped_streams,
        peak_buffered_frames=run.buffer.peak,
        encoder=encoder.codec,
        stage_seconds={name: round(value, 3) for name, value in busy.items()},
        settings=asdict(settings),
    )


def check_outputs(*outputs: str | Path | None, inputs: list[str | Path | None]) -> None:
    """Refuse outputs (None skipped) that are an input, lie inside or contain one, are an
    existing folder or name the same file twice (one would replace the other).

    Raises:
        ValueError: naming the path.
    """
    seen: dict[Path, str | Path] = {}
    for output in outputs:
        if output is None:
            continue
        check_apart(output, inputs)  # never writes over what it reads
        path = Path(output).resolve()
        if path.is_dir():
            raise ValueError(f"{output}: is a folder; give the output file's path")
        if path in seen:
            raise ValueError(f"{output}: given for two outputs ({seen[path]}); one would "
                             "replace the other")  # fmt: skip
        seen[path] = output


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
        output_video: the restored video (the settings' encoder in the suffix's container, the
            source's frame rate, audio and subtitle streams), written atomically.
        detector: finds the mosaic (:class:`~mosaicflow.inference.detector.YoloDetector`).
        restorer: restores crops (:class:`~mosaicflow.inference.restorer.BasicVSRRestorer`);
            ``codec: auto`` picks NVENC when it has a CUDA ``device``.
        settings: clip, crop, blend, encoder and pipeline settings (defaults:
            :class:`RestoreSettings`).
        masks_out: also write the per-frame detections there (``regions.parquet`` format).
        progress: show a progress bar (tqdm, on stderr) with the frame rate.

    Returns:
        The :class:`RestoreResult`.

    Raises:
        ValueError: an output is the input, a folder, or the other output.
        VideoDecodeError: the input cannot be opened (a ``ValueError`` naming the file).
        EncoderError: an NVENC encoder was asked for and cannot be opened here.
        StageError: a stage failed (names the stage and the frames; the cause is chained, e.g.
            a ``ValueError`` for a detector or restorer output of the wrong shape); no output
            file is left.
    """
    check_outputs(output_video, masks_out, inputs=[input_video])
    settings = settings or RestoreSettings()
    started = time.monotonic()
    done = _stream(input_video, output_video, detector, restorer, settings, masks_out, progress)
    seconds = time.monotonic() - started
    encoder = done.encoder
    result = _restore_result(input_video, output_video, masks_out, settings, encoder, done, seconds)
    log.info(
        "%s -> %s: %d frames (%d restored) in %d clips, %.1f fps (%s; busiest stage %s)",
        input_video,
        output_video,
        done.frames,
        result.restored_frames,
        result.clips,
        result.fps,
        encoder.codec,
        max(done.busy, key=done.busy.__getitem__),
    )
    return result
