"""Re-uploads in the demo world (``world.reuploads``): copies of source videos as another
uploader would make them, with their truth transformed alike.

A copy starts a few frames later, loses a few percent on each side, is rescaled, carries a
watermark of its own and is re-encoded at a higher CRF. Its truth masks, watermark and
distractor boxes are the source's, cut, cropped and rescaled the same way; its truth JSON names
the source and what was drawn (``reupload``), so a duplicate search can be scored on it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.config import ConfigError
from mosaicflow.world.config import WorldConfig
from mosaicflow.world.specs import SOURCE_ROLES, VideoSpec, derive_seed

#: Name prefix of the copies: ``world-reupload-NN``.
REUPLOAD_PREFIX = "world-reupload-"
#: Role of a copy among the workflow's sources: none, its split follows its duplicate group.
REUPLOAD_ROLE = "unlabelled"


@dataclass(frozen=True)
class ReuploadSpec:
    """Everything that determines one copy (its render is a pure function of this and the
    source's files).

    Attributes:
        name: ``world-reupload-NN``.
        source: the copied world video's name.
        seed: the copy's own seed (its watermark).
        shift: frames cut from the start.
        crop: share of the width and of the height cut from each side.
        scale: size of the copy relative to the cropped source.
        crf: x264 CRF of the copy.
    """

    name: str
    source: str
    seed: int
    shift: int
    crop: float
    scale: float
    crf: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable parameters (Snakemake ``params:``, the truth JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReuploadSpec:
        """Rebuild a spec from :meth:`to_dict` output."""
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            raise ValueError(f"ReuploadSpec: keys {sorted(data)}, expected {sorted(names)}")
        return cls(**data)


def reupload_specs(cfg: WorldConfig, seed: int, specs: Sequence[VideoSpec]) -> list[ReuploadSpec]:
    """The copies ``world.reuploads`` asks for: the listed sources, then ``count`` more drawn
    from the seed among the other source videos (train, val, test).

    Raises:
        ConfigError: a listed name that is not a source video, more copies than sources, or a
            shift that leaves a copy fewer than 2 frames.
    """
    ru = cfg.reuploads
    by_name = {s.name: s for s in specs if s.role in SOURCE_ROLES}
    unknown = sorted(set(ru.sources) - set(by_name))
    if unknown:
        raise ConfigError(
            f"config key 'world.reuploads.sources': {', '.join(unknown)} is not a train, val "
            "or test video of the world"
        )
    chosen = list(dict.fromkeys(ru.sources))
    rest = [name for name in by_name if name not in chosen]
    if ru.count > len(rest):
        raise ConfigError(
            f"config key 'world.reuploads.count': {ru.count} copies asked, {len(rest)} source "
            "videos left to copy"
        )
    draw = np.random.default_rng(derive_seed(seed, "reuploads"))
    chosen += [rest[int(i)] for i in draw.choice(len(rest), size=ru.count, replace=False)]
    out = []
    for k, source in enumerate(chosen):
        rng = np.random.default_rng(derive_seed(seed, "reupload", k, source))
        spec = ReuploadSpec(
            name=f"{REUPLOAD_PREFIX}{k:02d}",
            source=source,
            seed=derive_seed(seed, "reupload-seed", k, source),
            shift=int(rng.integers(ru.shift_frames[0], ru.shift_frames[1] + 1)),
            crop=round(float(rng.uniform(*ru.crop)), 4),
            scale=round(float(rng.uniform(*ru.scale)), 4),
            crf=int(rng.integers(ru.crf[0], ru.crf[1] + 1)),
        )
        if by_name[source].frames - spec.shift < 2:
            raise ConfigError(
                f"config key 'world.reuploads.shift_frames': {spec.name} would cut {spec.shift} "
                f"of the {by_name[source].frames} frames of {source}"
            )
        out.append(spec)
    return out


@dataclass(frozen=True)
class CopyGeometry:
    """Where a copy's pixels come from: ``source[y0:y1, x0:x1]`` resized to ``width`` x
    ``height``."""

    x0: int
    y0: int
    x1: int
    y1: int
    width: int
    height: int

    @classmethod
    def of(cls, width: int, height: int, crop: float, scale: float) -> CopyGeometry:
        """The geometry of a copy of a ``width`` x ``height`` source (even output sizes)."""
        cx, cy = round(crop * width), round(crop * height)
        out_w = max(16, round((width - 2 * cx) * scale) // 2 * 2)
        out_h = max(16, round((height - 2 * cy) * scale) // 2 * 2)
        return cls(cx, cy, width - cx, height - cy, out_w, out_h)

    def box(self, box: Sequence[float]) -> list[int] | None:
        """A source box ``[x0, y0, x1, y1]`` (x1/y1 exclusive) in the copy, clipped to it;
        None when nothing of it is left."""
        sx = self.width / (self.x1 - self.x0)
        sy = self.height / (self.y1 - self.y0)
        x0 = min(max(round((box[0] - self.x0) * sx), 0), self.width)
        y0 = min(max(round((box[1] - self.y0) * sy), 0), self.height)
        x1 = min(max(round((box[2] - self.x0) * sx), 0), self.width)
        y1 = min(max(round((box[3] - self.y0) * sy), 0), self.height)
        return [x0, y0, x1, y1] if x1 > x0 and y1 > y0 else None

    def image(self, image: np.ndarray, nearest: bool = False) -> np.ndarray:
        """A source frame (or instance mask, ``nearest``) as the copy shows it."""
        import cv2

        flag = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
        crop = np.ascontiguousarray(image[self.y0 : self.y1, self.x0 : self.x1])
        return cv2.resize(crop, (self.width, self.height), interpolation=flag)


def _copy_frames(
    spec: ReuploadSpec,
    source: Mapping[str, Any],
    geo: CopyGeometry,
    watermark: Any,
    source_video: Path,
    source_truth: Path,
    drawn: np.ndarray,
    write_mask: Callable[[np.ndarray], None],
) -> tuple[list[dict[str, Any]], set[int]]:
    """Draw the copy's frames into ``drawn`` and write its truth masks; its per-frame truth and
    the instance ids it shows."""
    from mosaicflow.formats.truth import read_truth
    from mosaicflow.video.decode import iter_frames
    from mosaicflow.world.render import draw_watermark

    per_frame: list[dict[str, Any]] = []
    instances: set[int] = set()
    wanted = range(spec.shift, int(source["frames"]))
    pairs = zip(
        iter_frames(source_video, wanted, fmt="bgr24", threads=1),
        read_truth(source_truth, wanted),
        strict=True,
    )
    for k, ((f, image), (_, mask)) in enumerate(pairs):
        entry = source["per_frame"][f]
        canvas = geo.image(image).astype(np.float32)
        own = draw_watermark(canvas, watermark)
        drawn[k] = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
        copy_mask = geo.image(mask, nearest=True)
        ids = [int(v) for v in np.flatnonzero(np.bincount(copy_mask.ravel())) if v]
        instances.update(ids)
        write_mask(copy_mask)
        marks = [
            {**wm, "box": box}
            for wm in entry.get("watermarks", [])
            if (box := geo.box(wm["box"])) is not None
        ]
        per_frame.append(
            {
                "frame": k,
                "scene": entry["scene"],
                "static": bool(entry["static"]) and k > 0,
                "instances": ids,
                "watermarks": marks + ([own] if own is not None else []),
                "distractors": [
                    box for d in entry.get("distractors", []) if (box := geo.box(d)) is not None
                ],
            }
        )
    return per_frame, instances


def _encode_copy(video_out: Path, drawn: np.ndarray, geo: CopyGeometry, fps: int, crf: int) -> None:
    """Encode the drawn frames into ``video_out`` (reproducible H.264), atomically."""
    import av

    from mosaicflow.io import atomic_path
    from mosaicflow.video.x264 import add_h264_stream
    from mosaicflow.world.render import mux_frames

    bitexact = {"fflags": "+bitexact"}
    with (
        atomic_path(video_out) as tmp,
        av.open(str(tmp), "w", container_options=bitexact) as container,
    ):
        stream = add_h264_stream(container, geo.width, geo.height, fps, crf)
        mux_frames(container, stream, drawn)


def _copy_truth(
    spec: ReuploadSpec,
    source: Mapping[str, Any],
    geo: CopyGeometry,
    watermark: Any,
    per_frame: list[dict[str, Any]],
    instances: set[int],
) -> dict[str, Any]:
    """The copy's truth JSON (its statistics under ``stats``)."""
    from mosaicflow.formats.truth import MASK_ENCODING, TRUTH_VERSION

    frames = int(source["frames"]) - spec.shift
    scenes = [
        {**scene, "start": max(0, scene["start"] - spec.shift), "end": scene["end"] - spec.shift}
        for scene in source["scenes"]
        if scene["end"] > spec.shift
    ]
    stats = {
        "name": spec.name,
        "frames": frames,
        "empty_frames": sum(1 for p in per_frame if not p["instances"]),
        "static_frames": sum(1 for p in per_frame if p["static"]),
        "scenes": len(scenes),
        "instances": len(instances),
        "has_audio": False,
    }
    return {
        "version": TRUTH_VERSION,
        "name": spec.name,
        "role": REUPLOAD_ROLE,
        "fps": int(source["fps"]),
        "width": geo.width,
        "height": geo.height,
        "frames": frames,
        "mask_encoding": MASK_ENCODING,
        "classes": list(source["classes"]),
        "audio": False,
        "spec": spec.to_dict(),
        "reupload": {
            "source": spec.source,
            "shift": spec.shift,
            "crop": [geo.x0, geo.y0, geo.x1, geo.y1],
            "scale": spec.scale,
            "crf": spec.crf,
            "watermark": watermark.cls,
        },
        "scenes": scenes,
        "stats": stats,
        "per_frame": per_frame,
    }


def render_reupload(
    spec: ReuploadSpec,
    source_video: Path,
    source_truth: Path,
    source_truth_json: Path,
    video_out: Path,
    truth_out: Path,
    truth_json_out: Path,
) -> dict[str, Any]:
    """Render one copy and its truth from the source's files, all written atomically.

    Returns:
        The copy's statistics (also in its truth JSON under ``stats``).

    Raises:
        ValueError: naming the source's truth JSON when the copy would keep fewer than 2 frames.
    """
    from mosaicflow.formats.truth import load_truth_json, truth_mask_writer, write_truth_json
    from mosaicflow.world.render import make_watermark

    source = load_truth_json(Path(source_truth_json))
    frames = int(source["frames"]) - spec.shift
    if frames < 2:
        raise ValueError(f"{source_truth_json}: {spec.name} would keep {frames} frames")
    geo = CopyGeometry.of(int(source["width"]), int(source["height"]), spec.crop, spec.scale)
    fps = int(source["fps"])
    rng = np.random.default_rng(spec.seed)
    watermark = make_watermark(rng, geo.width, geo.height, 0, frames)
    video_out, truth_out, truth_json_out = Path(video_out), Path(truth_out), Path(truth_json_out)
    video_out.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".reupload-", dir=video_out.parent) as scratch,
        truth_mask_writer(truth_out, fps, geo.width, geo.height) as write_mask,
    ):
        drawn = np.lib.format.open_memmap(
            Path(scratch) / "frames.npy", "w+", np.uint8, (frames, geo.height, geo.width, 3)
        )
        per_frame, instances = _copy_frames(
            spec, source, geo, watermark, source_video, source_truth, drawn, write_mask
        )
        _encode_copy(video_out, drawn, geo, fps, spec.crf)
    truth = _copy_truth(spec, source, geo, watermark, per_frame, instances)
    write_truth_json(truth_json_out, truth)
    return truth["stats"]
