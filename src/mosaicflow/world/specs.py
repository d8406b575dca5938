"""Video specs of the demo world: names, roles and the resolved parameters of each video.

A video's parameters are the global ``world`` keys, overridden by ``world.videos[<name>]``.
Its seed derives from (global seed, name, variant) only, so changing one video's parameters
changes neither the seeds nor the parameters of the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mosaicflow.config import ConfigError, stable_hash
from mosaicflow.world.config import WorldConfig

#: Roles in their order in the world (names ``world-<role>-NN``). ``label`` videos only feed
#: the labelme train set of the region segmenter; they are not source videos of the workflow,
#: as a labelled image collection drawn from other footage would not be. ``quality`` videos only
#: measure the source-quality classifier, scene by scene (rule evaluate_source_quality).
ROLES = ("train", "val", "test", "label", "quality")
#: Roles whose videos are the workflow's source videos.
SOURCE_ROLES = ("train", "val", "test")
#: The world roles whose videos feed each split of the labelme set.
LABELME_SPLIT_ROLES = {"train": ("train", "label"), "val": ("val",)}

#: Watermark class names: the ONE definition used by the truth JSON and the YOLO data set.
WATERMARK_CLASSES = ("text", "logo")

#: Keys of ``world.videos[<name>]`` (per-video overrides of the global ``world`` keys).
OVERRIDE_KEYS = (
    "width",
    "height",
    "fps",
    "seconds",
    "crf",
    "scenes",
    "max_targets",
    "target_coverage",
    "empty_fraction",
    "static_fraction",
    "watermark_fraction",
    "audio",
    "variant",
)


@dataclass(frozen=True)
class VideoSpec:
    """Everything that determines one world video (its render is a pure function of this).

    Attributes:
        name: ``world-<role>-NN``.
        role: ``train``, ``val`` or ``test``.
        seed: the video's own seed (from the global seed, the name and ``variant``).
        width, height, fps, seconds, crf: frame size, rate, duration and x264 CRF.
        scenes: number of segments separated by hard cuts.
        max_targets: at most this many targets per frame (1-3).
        target_coverage: (low, high) range of the summed target area per frame, as fractions.
        empty_fraction: at least this fraction of frames has no target.
        static_fraction: fraction of a segment frozen into a static stretch (repeated frames).
        watermark_fraction: at least this fraction of segments carries a watermark.
        audio: whether the mp4 gets an audio track.
        variant: extra seed salt (change it to draw a different video with the same sizes).
        degraded: ``world.degraded`` as this video renders it (None: no degraded scene; left
            out of :meth:`to_dict` then, so videos without one keep their parameters).
        faces: ``world.faces`` as this video renders it (None: no face; left out of
            :meth:`to_dict` then).
    """

    name: str
    role: str
    seed: int
    width: int
    height: int
    fps: int
    seconds: float
    crf: int
    scenes: int
    max_targets: int
    target_coverage: tuple[float, float]
    empty_fraction: float
    static_fraction: float
    watermark_fraction: float
    audio: bool
    variant: int
    degraded: Mapping[str, Any] | None = None
    faces: Mapping[str, Any] | None = None

    @property
    def frames(self) -> int:
        """Number of frames of the video."""
        return max(1, round(self.seconds * self.fps))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable parameters (for Snakemake ``params:`` and the truth JSON)."""
        data = dataclasses.asdict(self)
        data["target_coverage"] = list(self.target_coverage)
        for optional in ("degraded", "faces"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoSpec:
        """Rebuild a spec from :meth:`to_dict` output (e.g. a rule's ``params``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        missing = names - set(data) - {"degraded", "faces"}
        if unknown or missing:
            raise ValueError(
                f"VideoSpec: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
            )
        values = dict(data)
        values["target_coverage"] = tuple(float(v) for v in data["target_coverage"])
        return cls(**values)

    def params_hash(self) -> str:
        """Short stable hash of all parameters (changes iff the rendered video can change)."""
        return stable_hash(self.to_dict())


def video_seed(seed: int, name: str, variant: int = 0) -> int:
    """Derive a video's seed from the global seed and its name (and variant), stably."""
    digest = hashlib.sha256(f"mosaicflow.world:{seed}:{name}:{variant}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def derive_seed(seed: int, *parts: object) -> int:
    """Derive a sub-seed from a seed and labels (stable across runs and platforms)."""
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def video_names(cfg: WorldConfig) -> list[tuple[str, str]]:
    """``(name, role)`` of every world video, in order (train, val, test, label)."""
    counts = {
        "train": cfg.roles.train,
        "val": cfg.roles.val,
        "test": cfg.roles.test,
        "label": cfg.roles.label,
        "quality": cfg.roles.quality,
    }
    return [(f"world-{role}-{i:02d}", role) for role in ROLES for i in range(counts[role])]


def _check(name: str, spec: dict[str, Any]) -> None:
    where = f"world.videos.{name}" if name else "world"
    low, high = spec["target_coverage"]
    if not 0 < low <= high < 1:
        raise ConfigError(f"config key '{where}.target_coverage': need 0 < low <= high < 1")
    if not 1 <= spec["max_targets"] <= 3:
        raise ConfigError(f"config key '{where}.max_targets': must be 1-3")
    if spec["scenes"] < 1 or spec["width"] < 16 or spec["height"] < 16 or spec["fps"] < 1:
        raise ConfigError(f"config key '{where}': scenes >= 1, width/height >= 16, fps >= 1")
    for key in ("empty_fraction", "static_fraction"):
        if not 0 <= spec[key] < 1:
            raise ConfigError(f"config key '{where}.{key}': must be in [0, 1)")
    if not 0 <= spec["watermark_fraction"] <= 1:
        raise ConfigError(f"config key '{where}.watermark_fraction': must be in [0, 1]")
    frames = round(spec["seconds"] * spec["fps"])
    if frames < 2 * spec["scenes"]:
        raise ConfigError(f"config key '{where}.seconds': need >= 2 frames per scene")
    if math.ceil(spec["empty_fraction"] * frames) >= frames:
        raise ConfigError(f"config key '{where}.empty_fraction': leaves no frame with targets")


def video_specs(cfg: WorldConfig, seed: int) -> list[VideoSpec]:
    """Resolve the parameters of every world video.

    Args:
        cfg: the ``world`` config.
        seed: the global seed.

    Returns:
        The specs ordered train, val, test; names ``world-<role>-NN``.

    Raises:
        ConfigError: an override or an audio video names no world video, or a value is out
            of range.
    """
    names = video_names(cfg)
    known = {name for name, _ in names}
    for key, label in ((cfg.videos, "world.videos"), (cfg.audio_videos, "world.audio_videos")):
        unknown = sorted(set(key) - known)
        if unknown:
            raise ConfigError(
                f"config key '{label}': no world video named {', '.join(unknown)} "
                f"(videos: {', '.join(sorted(known))})"
            )
    specs = []
    for name, role in names:
        values: dict[str, Any] = {
            "width": cfg.width,
            "height": cfg.height,
            "fps": cfg.fps,
            "seconds": cfg.seconds,
            "crf": cfg.crf,
            "scenes": cfg.scenes,
            "max_targets": cfg.max_targets,
            "target_coverage": cfg.target_coverage,
            "empty_fraction": cfg.empty_fraction,
            "static_fraction": cfg.static_fraction,
            "watermark_fraction": cfg.watermark_fraction,
            "audio": name in cfg.audio_videos,
            "variant": 0,
        }
        for key, value in (cfg.videos.get(name) or {}).items():
            if key not in OVERRIDE_KEYS:
                raise ConfigError(
                    f"config key 'world.videos.{name}.{key}': unknown; allowed keys here: "
                    + ", ".join(OVERRIDE_KEYS)
                )
            if value is not None:
                values[key] = value
        values["target_coverage"] = tuple(float(v) for v in values["target_coverage"])
        if len(values["target_coverage"]) != 2:
            raise ConfigError(f"config key 'world.videos.{name}.target_coverage': need 2 values")
        _check(name, values)
        specs.append(
            VideoSpec(
                name=name,
                role=role,
                seed=video_seed(seed, name, int(values["variant"])),
                width=int(values["width"]),
                height=int(values["height"]),
                fps=int(values["fps"]),
                seconds=float(values["seconds"]),
                crf=int(values["crf"]),
                scenes=int(values["scenes"]),
                max_targets=int(values["max_targets"]),
                target_coverage=values["target_coverage"],
                empty_fraction=float(values["empty_fraction"]),
                static_fraction=float(values["static_fraction"]),
                watermark_fraction=float(values["watermark_fraction"]),
                audio=bool(values["audio"]),
                variant=int(values["variant"]),
                degraded=cfg.degraded.for_role(role),
                faces=cfg.faces.for_role(role),
            )
        )
    return specs
