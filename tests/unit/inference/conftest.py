"""Tiny synthetic videos (PyAV, with audio) and fake models for the restore pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from mosaicflow.inference.protocols import Detections

HEIGHT, WIDTH = 48, 64


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def textured_frames(n: int, height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> np.ndarray:
    """``(n, H, W, 3)`` RGB frames of a smooth random texture panning one pixel per frame."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 4 + 2, (width + n) // 4 + 2, 3), dtype=np.uint8)
    big = cv2.resize(small, (small.shape[1] * 4, small.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    return np.stack([big[:height, i : i + width] for i in range(n)])


def box_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """A bool ``(H, W)`` mask of a box."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def pixelate(frames: np.ndarray, masks: Sequence[np.ndarray | None], block: int = 8) -> np.ndarray:
    """Frames with ``block``-pixel mosaics (block means) where the masks are set."""
    out = frames.copy()
    for i, mask in enumerate(masks):
        if mask is None:
            continue
        h, w = frames.shape[1:3]
        small = cv2.resize(frames[i], (w // block, h // block), interpolation=cv2.INTER_AREA)
        blocks = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        out[i][mask] = blocks[mask]
    return out


def write_video(
    path: Path,
    frames: np.ndarray,
    fps: int = 10,
    audio: bool = True,
    crf: int = 0,
    rotation: int = 0,
) -> Path:
    """Encode RGB frames (x264, ``crf``) with a one-channel AAC sine tone as long as the video
    and an optional display rotation (PyAV's counter-clockwise degrees)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        video.options = {"crf": str(crf), "preset": "ultrafast", "threads": "1"}
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        if sound is not None:
            samples = np.sin(np.arange(int(16000 * len(frames) / fps)) * 0.05).astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = samples[None, start : start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 16000, start
                frame.time_base = Fraction(1, 16000)
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
        for image in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    return path


def decode_planes(path: Path) -> list[np.ndarray]:
    """Every frame of a video as I420 planes (``(H * 3 / 2, W)``)."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]


def decode_rgb(path: Path) -> np.ndarray:
    """Every frame as RGB, converted like the pipeline does (OpenCV, from I420)."""
    return np.stack([cv2.cvtColor(p, cv2.COLOR_YUV2RGB_I420) for p in decode_planes(path)])


def stream_info(path: Path) -> dict:
    """Frame count, frame rate and audio packets of a video."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        fps = float(video.average_rate)
        audio_codec = audio.codec_context.name if audio is not None else None
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(audio=0) if p.size] if audio is not None else []
    return {
        "frames": frames,
        "fps": fps,
        "audio_codec": audio_codec,
        "audio_packets": len(packets),
        "audio_bytes": b"".join(bytes(p) for p in packets),
    }


class ScriptedDetector:
    """Returns prepared masks frame after frame (``None`` = nothing detected; a tuple of masks =
    several instances)."""

    def __init__(self, masks: Sequence[np.ndarray | tuple[np.ndarray, ...] | None]) -> None:
        self.masks = list(masks)
        self.position = 0
        self.calls: list[int] = []

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        self.calls.append(len(frames))
        out = []
        for frame in frames:
            mask = self.masks[self.position] if self.position < len(self.masks) else None
            self.position += 1
            h, w = frame.shape[:2]
            if mask is None:
                out.append(Detections.none(h, w))
            else:
                out.append(Detections.from_masks(*(mask if isinstance(mask, tuple) else (mask,))))
        return out


class InvertingRestorer:
    """Returns the negative of every crop (makes restored pixels easy to spot)."""

    input_size = 32

    def __init__(self) -> None:
        self.clip_lengths: list[int] = []

    def restore(self, clip: np.ndarray) -> np.ndarray:
        self.clip_lengths.append(len(clip))
        return 255 - clip


class OracleRestorer:
    """Returns the ground truth of each crop, found by matching the crop in the mosaic frames.

    The crops are unscaled and unpadded windows here (frames larger than ``input_size``), so
    each crop is the mosaic video's window with the smallest squared difference.
    """

    input_size = 32

    def __init__(self, mosaic: np.ndarray, truth: np.ndarray) -> None:
        self.mosaic = mosaic.astype(np.float32)
        self.truth = truth

    def restore(self, clip: np.ndarray) -> np.ndarray:
        s = self.input_size
        out = np.empty_like(clip)
        for k, crop in enumerate(clip.astype(np.float32)):
            best = (np.inf, 0, 0, 0)
            for t, frame in enumerate(self.mosaic):
                scores = cv2.matchTemplate(frame, crop, cv2.TM_SQDIFF)
                _, _, (x, y), _ = cv2.minMaxLoc(scores)
                if scores[y, x] < best[0]:
                    best = (float(scores[y, x]), t, y, x)
            _, t, y, x = best
            out[k] = self.truth[t, y : y + s, x : x + s]
        return out
