"""The detector's test videos: every frame of a demo test video with its regions pixelated.

Mosaics are drawn over the ground-truth regions of *every* frame with the seed stream
``detection_dataset.test_seed`` (the dataset's own mosaics use stream 0), per clip (scene and
target), then the video is re-encoded with x264 (the realistic degradation). The truth is
written in the demo truth format (:mod:`mosaicflow.formats.truth`): a mask video whose ids are
the 8-connected components of each frame's mosaic mask (what the dataset labels as one
instance), and a truth JSON listing them per frame. Frames without regions have no mosaic: the
false-positive rate is measured on them.

With ``detection_dataset.faces`` on, the faces of the world's truth (``per_frame[].faces``)
get the face class's coarser mosaics, as the dataset draws them (:mod:`.faces`), never over a
region; their components follow the regions' ids and are listed per frame as
``face_instances``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mosaicflow.datasets.detection.build import video_key
from mosaicflow.datasets.detection.faces import FacesConfig, face_masks
from mosaicflow.datasets.detection.synth import Region, clip_params, pixelate
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.mosaic.synth import MosaicParams

TEST_CRF = 18
#: The seed stream of the test videos' face mosaics (regions: 1).
FACE_STREAM = 2


@dataclass(frozen=True)
class TestVideoResult:
    """Counts of one mosaicked test video."""

    frames: int
    frames_with_mosaic: int
    mosaics: int
    face_mosaics: int = 0


def mosaic_components(mask: np.ndarray) -> np.ndarray:
    """Instance ids (uint8, 0 = none) of the 8-connected components of a mosaic mask."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count > 256:
        raise ValueError(f"{count - 1} mosaic components in one frame (at most 255)")
    return labels.astype(np.uint8)


def draw_mosaics(
    image: np.ndarray,
    regions: list[Region],
    faces: list[Region],
    params_for: Callable[[Hashable, np.ndarray], MosaicParams],
    face_params_for: Callable[[Hashable, np.ndarray], MosaicParams] | None,
    min_change: float,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Pixelate a frame's regions, then its faces outside every region.

    Returns:
        ``(image, instance ids, face ids)``: the ids number the 8-connected components of
        the regions' mosaics, then those of the faces' (listed in face ids).
    """
    out, mask, _ = pixelate(image, regions, params_for, min_change)
    ids = mosaic_components(mask)
    if not faces or face_params_for is None:
        return out, ids, []
    taken = mask.copy()
    for _, region in regions:
        taken |= region
    before = out
    out, face_mask, _ = pixelate(out, faces, face_params_for, min_change)
    out[taken] = before[taken]
    face_ids = mosaic_components(face_mask & ~taken)
    first = int(ids.max())
    count = int(face_ids.max())
    if first + count > 255:
        raise ValueError(f"{first + count} mosaic components in one frame (at most 255)")
    ids = np.where(face_ids > 0, face_ids + first, ids).astype(np.uint8)
    return out, ids, list(range(first + 1, first + count + 1))


@dataclass(frozen=True)
class FrameMosaics:
    """Draws the mosaics of one test video's frames with its clips' parameters.

    Attributes:
        params_for: the regions' clip parameters (:func:`~.synth.clip_params`).
        face_params_for: the faces' (None: the truth's faces are left as they are).
        grow: ``detection_dataset.faces.grow``.
        min_change: ``detection_dataset.min_mosaic_change``.
    """

    params_for: Callable[[Hashable, np.ndarray], MosaicParams]
    face_params_for: Callable[[Hashable, np.ndarray], MosaicParams] | None
    grow: float = 1.0
    min_change: float = 0.0

    @classmethod
    def of_video(
        cls,
        mosaic: MosaicConfig,
        faces: FacesConfig | None,
        seed: Sequence[int],
        shape: tuple[int, int],
        min_change: float = 0.0,
    ) -> FrameMosaics:
        """The clips' parameters of a video seeded ``seed`` (regions on stream 1, faces on
        :data:`FACE_STREAM`, when ``faces`` is enabled) for frames of ``shape`` (H, W)."""
        return cls(
            clip_params(mosaic, [*seed, 1], shape),
            clip_params(faces.mosaic(mosaic), [*seed, FACE_STREAM], shape)
            if faces is not None and faces.enabled
            else None,
            faces.grow if faces is not None else 1.0,
            min_change,
        )

    def draw(
        self, image: np.ndarray, ids: np.ndarray, entry: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """:func:`draw_mosaics` of a frame with truth ``ids`` and truth JSON ``entry``."""
        scene = int(entry.get("scene", 0))
        regions = [((scene, int(i)), ids == i) for i in np.unique(ids[ids > 0]).tolist()]
        faces: list[Region] = []
        if self.face_params_for is not None:
            masks = face_masks(
                entry.get("faces") or [], [m for _, m in regions], ids.shape, self.grow
            )
            faces = [(scene, m) for m in masks]
        return draw_mosaics(
            image, regions, faces, self.params_for, self.face_params_for, self.min_change
        )


def _copy_audio(source: Any, audio_in: Any, container: Any, audio_out: Any) -> None:
    """Copy the source's audio packet by packet (the restore keeps it: a check)."""
    for packet in source.demux(audio_in):
        if packet.dts is not None:
            packet.stream = audio_out
            container.mux(packet)


def build_test_video(
    mosaic: MosaicConfig,
    video: Path,
    truth_mkv: Path,
    truth_json: Path,
    out_video: Path,
    out_truth: Path,
    out_json: Path,
    *,
    seed: int,
    test_seed: int,
    min_change: float = 0.0,
    name: str | None = None,
    faces: FacesConfig | None = None,
) -> TestVideoResult:
    """Rule ``build_detection_testset``: mosaic every frame of one demo test video.

    Args:
        mosaic: the ``mosaic`` config.
        video, truth_mkv, truth_json: the world video and its truth.
        out_video: the mosaicked video (.mp4, x264; the source's audio copied).
        out_truth, out_json: its mosaic truth (mask video of component ids, truth JSON).
        seed: the config's master seed.
        test_seed: ``detection_dataset.test_seed`` (>= 1: never the dataset's stream 0).
        min_change: ``detection_dataset.min_mosaic_change``: fainter mosaics are not drawn
            (nor in the truth), as in the dataset.
        name: the held-out video's name (the world name or the user video's id), which seeds
            its mosaics and names its truth; the video's file stem when None.
        faces: ``detection_dataset.faces``: when enabled, the truth's face boxes get face
            mosaics (:func:`draw_mosaics`).

    Returns:
        Counts of frames and mosaics.
    """
    import av

    from mosaicflow.formats.truth import (
        load_truth_json,
        read_truth,
        truth_mask_writer,
        write_truth_json,
    )
    from mosaicflow.io import atomic_path
    from mosaicflow.video.decode import frame_rate, iter_frames
    from mosaicflow.video.x264 import add_h264_stream

    if test_seed < 1:
        raise ValueError("config key 'detection_dataset.test_seed' must be >= 1")
    truth = load_truth_json(truth_json)
    width, height = int(truth["width"]), int(truth["height"])
    fps = frame_rate(float(truth["fps"]))
    name = name or Path(video).stem
    key = video_key(name)
    seeds = [seed, test_seed, key]
    mosaicker = FrameMosaics.of_video(mosaic, faces, seeds, (height, width), min_change)
    per_frame = []
    with_mosaic = mosaics = face_mosaics = 0
    bitexact = {"fflags": "+bitexact"}
    with (
        truth_mask_writer(out_truth, fps, width, height) as write_mask,
        atomic_path(out_video) as tmp,
        av.open(str(tmp), "w", container_options=bitexact) as container,
        av.open(str(video)) as source,
    ):
        audio_in = source.streams.audio[0] if source.streams.audio else None
        audio_out = container.add_stream_from_template(audio_in) if audio_in else None
        stream = add_h264_stream(container, width, height, fps, TEST_CRF)
        truths = read_truth(truth_mkv)
        for index, image in iter_frames(video, None, fmt="rgb24", threads=1):
            _, ids = next(truths)
            entry = truth["per_frame"][index]
            try:
                out, components, face_ids = mosaicker.draw(image, ids, entry)
            except ValueError as err:
                raise ValueError(f"{video}: frame {index}: {err}") from err
            found = int(components.max())
            with_mosaic += found > len(face_ids)
            mosaics += found - len(face_ids)
            face_mosaics += len(face_ids)
            write_mask(components)
            record = {**entry, "instances": list(range(1, found + 1))}
            if mosaicker.face_params_for is not None:
                record["face_instances"] = face_ids
            per_frame.append(record)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(out), format="rgb24")
            frame = frame.reformat(format="yuv420p", threads=1)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_in is not None:
            _copy_audio(source, audio_in, container, audio_out)
    if len(per_frame) != truth["frames"]:
        raise ValueError(f"{video}: {len(per_frame)} frames decoded, truth says {truth['frames']}")
    write_truth_json(
        out_json,
        {**truth, "name": name, "per_frame": per_frame, "mosaic_seed": [seed, test_seed]},
    )
    return TestVideoResult(len(per_frame), with_mosaic, mosaics, face_mosaics)
