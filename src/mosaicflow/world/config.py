"""Typed configuration of the demo world (the ``world`` section of ``config/schema.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorldRoles:
    """How many videos of each role the world has (``world.roles``)."""

    train: int
    val: int
    test: int
    label: int
    quality: int = 0


#: Kinds of label error ``world.label_noise`` injects (:mod:`mosaicflow.world.label_noise`).
KINDS = ("drop", "shift", "distractor")


@dataclass(frozen=True)
class LabelNoise:
    """``world.label_noise``: the share of labelled train frames given one error, and the kinds.

    Attributes:
        fraction: probability that a train labelme frame gets one error (0 = off).
        kinds: error kinds to draw from (:data:`KINDS`).
    """

    fraction: float = 0.0
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"world.label_noise.kinds: unknown {unknown}; known: {list(KINDS)}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"world.label_noise.fraction: {self.fraction} is not in [0, 1]")


@dataclass(frozen=True)
class Reuploads:
    """``world.reuploads``: copies of source videos as a re-upload would make them.

    Attributes:
        sources: names of world videos to copy, each once (in this order).
        count: further copies, of source videos drawn from the seed among those not listed.
        shift_frames: (low, high) frames cut from the start, inclusive.
        crop: (low, high) share of the width and of the height cut from each side.
        scale: (low, high) size of the copy relative to the cropped source.
        crf: (low, high) x264 CRF of the copy, inclusive.
    """

    sources: tuple[str, ...] = ()
    count: int = 0
    shift_frames: tuple[int, ...] = (2, 15)
    crop: tuple[float, ...] = (0.01, 0.05)
    scale: tuple[float, ...] = (0.5, 0.9)
    crf: tuple[int, ...] = (30, 37)

    def __post_init__(self) -> None:
        for key in ("shift_frames", "crop", "scale", "crf"):
            low, high = getattr(self, key)
            if low > high:
                raise ValueError(f"world.reuploads.{key}: low {low} > high {high}")


#: Kinds of source degradation ``world.degraded`` gives whole scenes
#: (:mod:`mosaicflow.world.degraded`).
DEGRADED_KINDS = ("codec", "blur", "upscale", "mosaic")
#: How ``world.degraded`` picks the degraded scenes and their kinds.
DEGRADED_DRAWS = ("independent", "dealt")


@dataclass(frozen=True)
class DegradedScenes:
    """``world.degraded``: scenes rendered as a poor source would show them.

    Attributes:
        p: probability that a scene of a video of one of ``roles`` is degraded (0 = off).
        kinds: degradations drawn from (:data:`DEGRADED_KINDS`), one per degraded scene.
        roles: world roles whose videos get degraded scenes.
        codec_crf: (low, high) x264 CRF of a ``codec`` scene's re-encode, inclusive.
        blur_sigma: (low, high) Gaussian sigma of a ``blur`` scene, in pixels.
        upscale: (low, high) scale a ``upscale`` scene is shrunk to before it is enlarged back.
        mosaic_block: (low, high) block size in pixels of a ``mosaic`` scene's pixelated targets.
        draw: ``independent`` (every scene, kinds drawn) or ``dealt`` (scenes with a target,
            kinds dealt in turn; :func:`mosaicflow.world.degraded.draw_scene_degradations`).
    """

    p: float = 0.0
    kinds: tuple[str, ...] = DEGRADED_KINDS
    roles: tuple[str, ...] = ("train", "val", "test")
    codec_crf: tuple[int, ...] = (44, 51)
    blur_sigma: tuple[float, ...] = (1.5, 3.0)
    upscale: tuple[float, ...] = (0.25, 0.45)
    mosaic_block: tuple[int, ...] = (6, 12)
    draw: str = "independent"

    def __post_init__(self) -> None:
        if self.draw not in DEGRADED_DRAWS:
            raise ValueError(f"world.degraded.draw: {self.draw!r} is not one of {DEGRADED_DRAWS}")
        unknown = sorted(set(self.kinds) - set(DEGRADED_KINDS))
        if unknown:
            raise ValueError(
                f"world.degraded.kinds: unknown {unknown}; known: {list(DEGRADED_KINDS)}"
            )
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"world.degraded.p: {self.p} is not in [0, 1]")
        if self.p > 0 and not self.kinds:
            raise ValueError("world.degraded.kinds: empty while world.degraded.p > 0")
        for key in ("codec_crf", "blur_sigma", "upscale", "mosaic_block"):
            low, high = getattr(self, key)
            if low > high:
                raise ValueError(f"world.degraded.{key}: low {low} > high {high}")

    def for_role(self, role: str) -> dict[str, Any] | None:
        """The plain parameters a video of ``role`` renders with (None: no degraded scene)."""
        if self.p <= 0 or role not in self.roles:
            return None
        return {
            "p": float(self.p),
            "kinds": list(self.kinds),
            "codec_crf": [int(v) for v in self.codec_crf],
            "blur_sigma": [float(v) for v in self.blur_sigma],
            "upscale": [float(v) for v in self.upscale],
            "mosaic_block": [int(v) for v in self.mosaic_block],
            # only when not the default, so the specs of videos drawn independently keep their
            # parameters (and the jobs that render them rerun nothing)
            **({"draw": self.draw} if self.draw != "independent" else {}),
        }


@dataclass(frozen=True)
class Faces:
    """``world.faces``: a face photograph in some scenes, for the detector's face class.

    The head of Grace Hopper's portrait (matplotlib's sample data) moves through the scene as
    an upright ellipse, under the targets and never in a frame without one; the truth JSON
    records its face box per frame (``per_frame[].faces``).

    Attributes:
        p: probability that a scene with a target shows a face (0 = off).
        width: (low, high) width of the head as a share of the frame width.
        roles: world roles whose videos show faces.
    """

    p: float = 0.0
    width: tuple[float, ...] = (0.25, 0.31)
    roles: tuple[str, ...] = ("train", "val", "test")

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"world.faces.p: {self.p} is not in [0, 1]")
        low, high = self.width
        if not 0 < low <= high < 1:
            raise ValueError(f"world.faces.width: need 0 < low <= high < 1, got {low}, {high}")

    def for_role(self, role: str) -> dict[str, Any] | None:
        """The plain parameters a video of ``role`` renders with (None: no face)."""
        if self.p <= 0 or role not in self.roles:
            return None
        return {"p": float(self.p), "width": [float(v) for v in self.width]}


@dataclass(frozen=True)
class WorldConfig:
    """The ``world`` section: sizes, content fractions and per-video overrides.

    Every field matches a key of ``world`` in ``config/schema.yaml`` (defaults live there).
    ``videos`` maps a video name (``world-<role>-NN``) to overrides of the per-video keys.
    """

    minimums: bool
    roles: WorldRoles
    width: int
    height: int
    fps: int
    seconds: float
    label: str
    empty_label: str
    labelme_every: int
    watermark_every: int
    watermark_overlay_p: float
    crf: int
    scenes: int
    max_targets: int
    target_coverage: tuple[float, ...]
    empty_fraction: float
    static_fraction: float
    watermark_fraction: float
    audio_videos: tuple[str, ...]
    videos: Mapping[str, Mapping[str, Any]]
    label_noise: LabelNoise = LabelNoise()
    reuploads: Reuploads = Reuploads()
    degraded: DegradedScenes = DegradedScenes()
    faces: Faces = Faces()
