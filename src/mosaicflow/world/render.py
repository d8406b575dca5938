"""Render one demo-world video, its ground-truth instance masks and its truth JSON.

Outputs of :func:`render_video`:

- the video: H.264 (libx264, yuv420p, one thread, mbtree off, encoded after every frame is
  drawn, so the bytes are deterministic: see :mod:`mosaicflow.video.x264`) in .mp4,
  with an AAC audio track when the spec asks for one;
- the truth masks and the truth JSON in the format of :mod:`mosaicflow.formats.truth` (read
  them with its ``read_truth`` and ``load_truth_json``). The JSON holds fps, size, frame count,
  watermark class names, scenes, instances and, per frame, the instance ids present, the scene
  id, whether the frame repeats its predecessor (``static``) and the watermark boxes.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from mosaicflow.formats.truth import (
    MASK_ENCODING,
    TRUTH_VERSION,
    truth_mask_writer,
    write_truth_json,
)
from mosaicflow.io import atomic_path
from mosaicflow.video.x264 import add_h264_stream
from mosaicflow.world import assets
from mosaicflow.world.degraded import degrade_scene, draw_scene_degradations
from mosaicflow.world.specs import WATERMARK_CLASSES, VideoSpec, derive_seed

_AUDIO_RATE = 48000
_MIN_TARGET_AREA = 0.013  # smallest area of one target (fraction of the frame) before scaling
_SCALE_AMP = 0.06  # linear scale oscillation of targets


@dataclass(frozen=True)
class RenderResult:
    """Statistics of a rendered video (also stored under ``stats`` in the truth JSON)."""

    name: str
    frames: int
    empty_frames: int
    static_frames: int
    scenes: int
    watermark_scenes: int
    instances: int
    has_audio: bool
    mean_motion_px: float
    coverage_min: float
    coverage_max: float

    def to_dict(self) -> dict[str, Any]:
        """The statistics as a plain dict."""
        return dict(self.__dict__)


@dataclass
class _Sprite:
    texture: np.ndarray  # h x w x 3 uint8
    alpha: np.ndarray  # h x w float32 in [0, 1]
    center: tuple[float, float]
    radius: float  # largest content radius in sprite pixels
    pos0: np.ndarray
    vel: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    angle0: float
    omega: float
    aniso: tuple[float, float]
    scale_amp: float = 0.0
    scale_period: float = 1.0
    scale_phase: float = 0.0
    warp_amp: float = 0.0
    warp_lambda: tuple[float, float] = (1.0, 1.0)
    warp_omega: float = 0.0
    warp_phase: tuple[float, float] = (0.0, 0.0)
    instance: int = 0


@dataclass
class _Head:
    """A face photograph's head moving through a scene (``world.faces``)."""

    sprite: _Sprite
    face: tuple[float, float, float, float]  # the face box in sprite pixels

    def face_box(self, t: float, width: int, height: int) -> list[int] | None:
        """The face box ``[x0, y0, x1, y1]`` at time ``t`` (clipped to the frame, end
        exclusive), None when less than half of it is inside the frame."""
        sp = self.sprite
        pos = _bounce(sp.pos0 + sp.vel * t, sp.lo, sp.hi)
        x0, y0, x1, y1 = (
            pos[0] - sp.center[0] + self.face[0],
            pos[1] - sp.center[1] + self.face[1],
            pos[0] - sp.center[0] + self.face[2],
            pos[1] - sp.center[1] + self.face[3],
        )
        box = [max(0, round(x0)), max(0, round(y0)), min(width, round(x1)), min(height, round(y1))]
        inside = max(0, box[2] - box[0]) * max(0, box[3] - box[1])
        return box if inside >= 0.5 * (x1 - x0) * (y1 - y0) else None


@dataclass
class _Watermark:
    color: np.ndarray  # h x w x 3 float32 (local box)
    alpha: np.ndarray  # h x w float32
    x: int
    y: int
    cls: str
    start: int  # local scene time range [start, end)
    end: int


@dataclass
class _Scene:
    index: int
    start: int
    end: int
    canvas: np.ndarray
    cam: tuple[float, float, float, float, float, float]  # cx0, cy0, cx1, cy1, z0, z1
    background: str
    targets: list[_Sprite] = field(default_factory=list)
    distractors: list[_Sprite] = field(default_factory=list)
    watermarks: list[_Watermark] = field(default_factory=list)
    heads: list[_Head] = field(default_factory=list)


def _bounce(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    span = np.maximum(hi - lo, 1e-6)
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y < span, y, 2 * span - y)


def _motion_box(ext: float, size: int) -> tuple[float, float]:
    lo, hi = ext, size - ext
    if hi - lo < 0.3 * size:  # too big to stay inside while moving: allow partial exit
        lo, hi = 0.35 * size, 0.65 * size
    return lo, hi


def _unit_blob(rng: np.random.Generator) -> np.ndarray:
    theta = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        r += rng.uniform(0, 0.16 / (k - 1) ** 0.5) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _unit_polygon(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.35:
        a = rng.uniform(0.5, 1.0)
        pts = np.array([[-1, -a], [1, -a], [1, a], [-1, a]], dtype=np.float64)
    else:
        n = int(rng.integers(3, 7))
        theta = np.arange(n) * 2 * np.pi / n + rng.uniform(0, np.pi)
        pts = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return pts


def _alpha_from_polygon(poly: np.ndarray, size: int) -> np.ndarray:
    canvas = np.zeros((size, size), np.uint8)
    pts = np.round(poly * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _make_sprite(
    rng: np.random.Generator,
    spec: VideoSpec,
    area_frac: float,
    target: bool,
    instance: int,
) -> _Sprite:
    W, H = spec.width, spec.height
    unit = _unit_blob(rng) if target else _unit_polygon(rng)
    unit_area = float(cv2.contourArea(unit.astype(np.float32)))
    radius_scale = math.sqrt(area_frac * W * H / unit_area)
    rmax = float(np.hypot(unit[:, 0], unit[:, 1]).max()) * radius_scale
    warp_amp = float(rng.uniform(1.0, 3.0)) * spec.width / 320 if target else 0.0
    margin = math.ceil(warp_amp) + 3
    size = 2 * math.ceil(rmax) + 2 * margin
    c = (size - 1) / 2.0
    alpha = _alpha_from_polygon(unit * radius_scale + c, size)
    if target:
        texture = assets.photo_crop(
            assets.TARGET_PHOTOS[int(rng.integers(len(assets.TARGET_PHOTOS)))],
            size,
            size,
            rng,
            tint_grey=False,
        )
    elif rng.random() < 0.6:
        name = assets.DISTRACTOR_PHOTOS[int(rng.integers(len(assets.DISTRACTOR_PHOTOS)))]
        texture = assets.photo_crop(name, size, size, rng, tint_grey=True)
    else:
        texture = assets.pattern(size, size, rng)
    sx = float(np.exp(rng.uniform(-0.3, 0.3)))
    aniso = (sx, 1.0 / sx)
    scale_amp = _SCALE_AMP if target else 0.0
    ext = (rmax + warp_amp) * (1 + scale_amp) * max(aniso) + 2
    bx, by = _motion_box(ext, W), _motion_box(ext, H)
    lo, hi = np.array([bx[0], by[0]]), np.array([bx[1], by[1]])
    speed = rng.uniform(0.9, 2.6) * W / 320
    direction = rng.uniform(0, 2 * np.pi)
    return _Sprite(
        texture=texture,
        alpha=alpha,
        center=(c, c),
        radius=rmax,
        pos0=rng.uniform(lo, hi),
        vel=speed * np.array([np.cos(direction), np.sin(direction)]),
        lo=lo,
        hi=hi,
        angle0=float(rng.uniform(0, 2 * np.pi)),
        omega=float(rng.uniform(-0.04, 0.04)),
        aniso=aniso,
        scale_amp=scale_amp,
        scale_period=float(rng.uniform(20, 60)),
        scale_phase=float(rng.uniform(0, 2 * np.pi)),
        warp_amp=warp_amp,
        warp_lambda=(float(rng.uniform(0.5, 1.2) * size), float(rng.uniform(0.5, 1.2) * size)),
        warp_omega=float(rng.uniform(0.1, 0.3)),
        warp_phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
        instance=instance,
    )


def _make_head(rng: np.random.Generator, spec: VideoSpec, share: float) -> _Head:
    """An upright head of :data:`~mosaicflow.world.assets.FACE_PHOTO`, ``share`` of the frame
    wide, drifting and bouncing inside the frame."""
    W, H = spec.width, spec.height
    texture, alpha, face = assets.head(max(8, round(share * W)))
    h, w = alpha.shape
    if rng.random() < 0.5:  # mirrored
        texture, alpha = texture[:, ::-1].copy(), alpha[:, ::-1].copy()
        face = (w - face[2], face[1], w - face[0], face[3])
    bx, by = _motion_box(w / 2 + 2, W), _motion_box(h / 2 + 2, H)
    lo, hi = np.array([bx[0], by[0]]), np.array([bx[1], by[1]])
    speed = rng.uniform(0.5, 1.5) * W / 320
    direction = rng.uniform(0, 2 * np.pi)
    sprite = _Sprite(
        texture=texture,
        alpha=alpha,
        center=((w - 1) / 2, (h - 1) / 2),
        radius=float(np.hypot(w, h) / 2),
        pos0=rng.uniform(lo, hi),
        vel=speed * np.array([np.cos(direction), np.sin(direction)]),
        lo=lo,
        hi=hi,
        angle0=0.0,
        omega=0.0,
        aniso=(1.0, 1.0),
    )
    return _Head(sprite, face)


def _plan_faces(spec: VideoSpec, scenes: list[_Scene]) -> None:
    """Give scenes with a target a head with probability ``spec.faces["p"]``, from the video's
    own face generator (the rest of the world draws the same without faces)."""
    if spec.faces is None:
        return
    rng = np.random.default_rng(derive_seed(spec.seed, "faces"))
    low, high = spec.faces["width"]
    for scene in scenes:
        shown = rng.random() < spec.faces["p"]
        share = float(rng.uniform(low, high))
        if shown and scene.targets:
            scene.heads.append(_make_head(rng, spec, share))


def _draw_sprite(
    frame: np.ndarray, mask: np.ndarray | None, sp: _Sprite, t: float
) -> list[int] | None:
    """Draw ``sp`` at time ``t`` into ``frame`` (and its instance into ``mask``); its box
    ``[x0, y0, x1, y1]`` (pixels, end exclusive) where it is at least half opaque, or None."""
    H, W = frame.shape[:2]
    pos = _bounce(sp.pos0 + sp.vel * t, sp.lo, sp.hi)
    angle = sp.angle0 + sp.omega * t
    s = 1.0 + sp.scale_amp * math.sin(2 * math.pi * t / sp.scale_period + sp.scale_phase)
    ext = (sp.radius + sp.warp_amp) * s * max(sp.aniso) + 2
    x0, x1 = max(0, int(pos[0] - ext)), min(W, math.ceil(pos[0] + ext) + 1)
    y0, y1 = max(0, int(pos[1] - ext)), min(H, math.ceil(pos[1] + ext) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    xs = np.arange(x0, x1, dtype=np.float32) - np.float32(pos[0])
    ys = np.arange(y0, y1, dtype=np.float32) - np.float32(pos[1])
    dx, dy = np.meshgrid(xs, ys)
    ca, sa = math.cos(angle), math.sin(angle)
    qx = (ca * dx + sa * dy) / (s * sp.aniso[0]) + sp.center[0]
    qy = (-sa * dx + ca * dy) / (s * sp.aniso[1]) + sp.center[1]
    if sp.warp_amp:
        wt = sp.warp_omega * t
        qx, qy = (
            qx + sp.warp_amp * np.sin(2 * np.pi * qy / sp.warp_lambda[0] + wt + sp.warp_phase[0]),
            qy + sp.warp_amp * np.sin(2 * np.pi * qx / sp.warp_lambda[1] + wt + sp.warp_phase[1]),
        )
    mx, my = qx.astype(np.float32), qy.astype(np.float32)
    a = cv2.remap(sp.alpha, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    tex = cv2.remap(sp.texture, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    roi = frame[y0:y1, x0:x1]
    roi += a[..., None] * (tex.astype(np.float32) - roi)
    solid = a >= 0.5
    if mask is not None and sp.instance:
        mask[y0:y1, x0:x1][solid] = sp.instance
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if not len(rows):
        return None
    return [x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1]


def _text_watermark(
    rng: np.random.Generator, width: int, height: int, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    words = (
        "@demo",
        "SAMPLE",
        "preview",
        "mosaicflow",
        "studio",
        "clip",
        "www.site.tv",
        "HD",
        "tv",
    )
    text = str(words[int(rng.integers(len(words)))])
    if rng.random() < 0.6:
        text += str(int(rng.integers(10, 99999)))
    fonts = (
        cv2.FONT_HERSHEY_SIMPLEX,
        cv2.FONT_HERSHEY_DUPLEX,
        cv2.FONT_HERSHEY_COMPLEX,
        cv2.FONT_HERSHEY_TRIPLEX,
        cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    )
    font = fonts[int(rng.integers(len(fonts)))]
    thick = int(rng.integers(1, 3))
    target_h = rng.uniform(14, 40) * height / 192
    (w, h), base = cv2.getTextSize(text, font, 1.0, thick)
    scale = target_h / h
    scale = min(scale, (width - 8) / w)
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    layer = np.zeros((h + base + 2 * thick + 2, w + 2 * thick + 2), np.uint8)
    cv2.putText(layer, text, (thick + 1, h + thick), font, scale, 255, thick, cv2.LINE_AA)
    color = np.full(3, 255.0) if rng.random() < 0.5 else rng.uniform(0, 255, 3)
    col = np.broadcast_to(color.astype(np.float32), (*layer.shape, 3)).copy()
    return col, layer.astype(np.float32) / 255.0 * alpha


def _logo_watermark(
    rng: np.random.Generator, width: int, height: int, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    side = max(8, round(rng.uniform(0.1, 0.6) * min(width, height)))
    if rng.random() < 0.4:
        logo = assets.load_photo(assets.LOGO_PHOTO)
        logo = cv2.resize(logo, (side, side), interpolation=cv2.INTER_AREA)
        col = logo[..., :3].astype(np.float32)
        a = logo[..., 3].astype(np.float32) / 255.0
    else:
        a8 = np.zeros((side, side), np.uint8)
        c = side // 2
        thick = max(1, side // 14)
        shape = int(rng.integers(3))
        if shape == 0:
            cv2.circle(a8, (c, c), c - thick, 255, thick, cv2.LINE_AA)
        elif shape == 1:
            cv2.rectangle(a8, (thick, thick), (side - thick - 1, side - thick - 1), 255, thick)
        else:
            pts = np.array(
                [[c, thick], [side - thick - 1, side - thick - 1], [thick, side - thick - 1]]
            )
            cv2.polylines(a8, [pts.astype(np.int32)], True, 255, thick, cv2.LINE_AA)
        letters = "".join(chr(int(rng.integers(65, 91))) for _ in range(int(rng.integers(1, 3))))
        font = cv2.FONT_HERSHEY_DUPLEX
        (w, h), _ = cv2.getTextSize(letters, font, 1.0, thick)
        scale = 0.45 * side / max(w, h)
        (w, h), _ = cv2.getTextSize(letters, font, scale, thick)
        cv2.putText(a8, letters, (c - w // 2, c + h // 2), font, scale, 255, thick, cv2.LINE_AA)
        color = np.full(3, 255.0) if rng.random() < 0.5 else rng.uniform(0, 255, 3)
        col = np.broadcast_to(color.astype(np.float32), (side, side, 3)).copy()
        a = a8.astype(np.float32) / 255.0
    return col, a * alpha


def _make_watermark(rng: np.random.Generator, spec: VideoSpec, start: int, end: int) -> _Watermark:
    return make_watermark(rng, spec.width, spec.height, start, end)


def make_watermark(
    rng: np.random.Generator, width: int, height: int, start: int = 0, end: int = 1
) -> _Watermark:
    """A random text or logo watermark for a ``width`` x ``height`` frame, shown in the local
    scene time range ``[start, end)``."""
    alpha = float(rng.uniform(0.25, 0.9))
    cls = WATERMARK_CLASSES[int(rng.integers(len(WATERMARK_CLASSES)))]
    col, a = (_text_watermark if cls == "text" else _logo_watermark)(rng, width, height, alpha)
    h, w = a.shape
    if rng.random() < 0.6:  # a corner, as platforms do
        x = 4 if rng.random() < 0.5 else width - w - 4
        y = 4 if rng.random() < 0.5 else height - h - 4
    else:
        x = int(rng.integers(0, max(1, width - w)))
        y = int(rng.integers(0, max(1, height - h)))
    x, y = max(0, min(x, width - w)), max(0, min(y, height - h))
    a = a[: height - y, : width - x]
    col = col[: a.shape[0], : a.shape[1]]
    return _Watermark(col, a, x, y, cls, start, end)


def _partition(rng: np.random.Generator, total: int, parts: int, minimum: int) -> list[int]:
    weights = 0.5 / parts + 0.5 * rng.dirichlet(np.ones(parts))
    sizes = np.maximum(minimum, np.floor(weights * total)).astype(int)
    while sizes.sum() > total:
        sizes[int(np.argmax(sizes))] -= 1
    sizes[int(rng.integers(parts))] += total - int(sizes.sum())
    return [int(v) for v in sizes]


def _local_times(
    spec: VideoSpec, rng: np.random.Generator, starts: np.ndarray, lengths: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The local scene time of every frame and the flags of frames in a static stretch."""
    n = spec.frames
    times = np.zeros(n, np.int64)
    static = np.zeros(n, bool)
    # static stretches (time stands still) in about half of the scenes, at least one
    n_static = max(1, math.ceil(spec.scenes / 2)) if spec.static_fraction > 0 else 0
    static_scenes = set(rng.permutation(spec.scenes)[:n_static].tolist())
    per_stretch = max(2, math.ceil(spec.static_fraction * n / max(1, n_static)))
    for s, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        inc = np.ones(length, np.int64)
        inc[0] = 0
        if s in static_scenes and length >= 4:
            run = min(per_stretch, length - 2)
            first = int(rng.integers(1, length - run + 1))
            inc[first : first + run] = 0
            static[start + first : start + first + run] = True
        times[start : start + length] = np.cumsum(inc)
    return times, static


def _empty_frames(
    spec: VideoSpec,
    rng: np.random.Generator,
    starts: np.ndarray,
    lengths: list[int],
    static: np.ndarray,
) -> np.ndarray:
    """The empty-frame flags: stretches at scene starts or ends, extended over static stretches
    they cut."""
    n = spec.frames
    empty = np.zeros(n, bool)
    remaining = math.ceil(spec.empty_fraction * n)
    for s in rng.permutation(spec.scenes).tolist():
        if remaining <= 0:
            break
        start, length = int(starts[s]), int(lengths[s])
        take = length if remaining >= 0.7 * length else remaining
        if rng.random() < 0.5:
            a, b = start, start + take
            while b < start + length and static[b]:
                b += 1
        else:
            a, b = start + length - take, start + length
            while a > start and static[a]:
                a -= 1
        empty[a:b] = True
        remaining -= b - a
    return empty


def _plan(spec: VideoSpec, rng: np.random.Generator) -> tuple[list[_Scene], np.ndarray, np.ndarray]:
    """Scenes with their content, the local time of every frame and the empty-frame flags."""
    lengths = _partition(rng, spec.frames, spec.scenes, 2)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    times, static = _local_times(spec, rng, starts, lengths)
    empty = _empty_frames(spec, rng, starts, lengths, static)
    scenes: list[_Scene] = []
    wm_count = math.ceil(spec.watermark_fraction * spec.scenes - 1e-9)
    wm_scenes = set(rng.permutation(spec.scenes)[:wm_count].tolist())
    next_id = 1
    W, H = spec.width, spec.height
    for s, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        cw, ch = math.ceil(W * 1.5), math.ceil(H * 1.5)
        if rng.random() < 0.35:
            canvas, background = assets.pattern(ch, cw, rng), "pattern"
        else:
            background = assets.BACKGROUND_PHOTOS[int(rng.integers(len(assets.BACKGROUND_PHOTOS)))]
            canvas = assets.photo_crop(background, ch, cw, rng, tint_grey=True)
        z0, z1 = rng.uniform(1.0, 1.35, 2)
        if rng.random() < 0.3:
            z1 = z0
        zmin = min(z0, z1)
        half = np.array([W / (2 * zmin), H / (2 * zmin)])
        c0 = rng.uniform(half, np.array([cw, ch]) - half)
        c1 = c0 if rng.random() < 0.25 else rng.uniform(half, np.array([cw, ch]) - half)
        scene = _Scene(
            s,
            int(start),
            int(start + length),
            canvas.astype(np.float32),
            (c0[0], c0[1], c1[0], c1[1], z0, z1),
            background,
        )
        for _ in range(int(rng.integers(1, 4))):
            scene.distractors.append(
                _make_sprite(rng, spec, float(rng.uniform(0.012, 0.06)), False, 0)
            )
        if not empty[start : start + length].all():
            low, high = spec.target_coverage
            total = float(rng.uniform(low, high))
            k = int(rng.integers(1, spec.max_targets + 1))
            k = max(1, min(k, int(total // _MIN_TARGET_AREA)))
            extra = max(0.0, total - k * _MIN_TARGET_AREA)
            areas = _MIN_TARGET_AREA + extra * rng.dirichlet(np.full(k, 2.0))
            for area in areas.tolist():
                scene.targets.append(_make_sprite(rng, spec, area, True, next_id))
                next_id += 1
        if s in wm_scenes:
            count = 1 if rng.random() < 0.5 else 2
            tlen = int(times[start + length - 1]) + 1
            for _ in range(count):
                if rng.random() < 0.5 and tlen >= 4:  # the watermark jumps once in the scene
                    cut = int(rng.integers(tlen // 3, 2 * tlen // 3 + 1))
                    first = _make_watermark(rng, spec, 0, cut)
                    scene.watermarks.append(first)
                    second = _make_watermark(rng, spec, cut, tlen)
                    scene.watermarks.append(second)
                else:
                    scene.watermarks.append(_make_watermark(rng, spec, 0, tlen))
        scenes.append(scene)
    return scenes, times, empty


def _render_frame(
    spec: VideoSpec, scene: _Scene, t: int, empty: bool
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], list[list[int]], list[list[int]]]:
    """One frame: the image, the instance mask, the watermark boxes, the distractor boxes and
    the face boxes."""
    length = max(1, scene.end - scene.start - 1)
    u = t / length
    cx0, cy0, cx1, cy1, z0, z1 = scene.cam
    cx, cy, z = cx0 + (cx1 - cx0) * u, cy0 + (cy1 - cy0) * u, z0 + (z1 - z0) * u
    M = np.array([[z, 0, spec.width / 2 - z * cx], [0, z, spec.height / 2 - z * cy]], np.float32)
    frame = cv2.warpAffine(
        scene.canvas,
        M,
        (spec.width, spec.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    mask = np.zeros((spec.height, spec.width), np.uint8)
    distractors = [box for sp in scene.distractors if (box := _draw_sprite(frame, None, sp, t))]
    faces = []
    if not empty:
        for head in scene.heads:
            _draw_sprite(frame, None, head.sprite, t)
            if (face := head.face_box(t, spec.width, spec.height)) is not None:
                faces.append(face)
        for sp in scene.targets:
            _draw_sprite(frame, mask, sp, t)
    boxes = []
    for wm in scene.watermarks:
        if wm.start <= t < wm.end:
            box = draw_watermark(frame, wm)
            if box is not None:
                boxes.append(box)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), mask, boxes, distractors, faces


def draw_watermark(frame: np.ndarray, wm: _Watermark) -> dict[str, Any] | None:
    """Blend ``wm`` into ``frame`` (float32, in place); its truth box, None if invisible."""
    h, w = wm.alpha.shape
    roi = frame[wm.y : wm.y + h, wm.x : wm.x + w]
    roi += wm.alpha[..., None] * (wm.color - roi)
    ys, xs = np.nonzero(wm.alpha > 0.02)
    if not len(xs):
        return None
    box = [int(wm.x + xs.min()), int(wm.y + ys.min()), int(wm.x + xs.max() + 1),
           int(wm.y + ys.max() + 1)]  # fmt: skip
    return {"class": wm.cls, "class_id": WATERMARK_CLASSES.index(wm.cls), "box": box}


def _audio_samples(spec: VideoSpec, scenes: list[_Scene], rng: np.random.Generator) -> np.ndarray:
    n = round(spec.frames / spec.fps * _AUDIO_RATE)
    t = np.arange(n, dtype=np.float64) / _AUDIO_RATE
    out = np.zeros(n, np.float64)
    for scene in scenes:
        a = round(scene.start / spec.fps * _AUDIO_RATE)
        b = round(scene.end / spec.fps * _AUDIO_RATE)
        f = rng.uniform(180, 900)
        out[a:b] = (
            0.2 * np.sin(2 * np.pi * f * t[a:b]) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t[a:b]))
        )
    return out.astype(np.float32)


def _add_audio(container: Any, samples: np.ndarray) -> tuple[Any, list[Any]]:
    stream = container.add_stream("aac", rate=_AUDIO_RATE, layout="mono")
    frames = []
    step = 1024
    for i in range(0, len(samples), step):
        chunk = samples[i : i + step][None, :]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
        frame.sample_rate = _AUDIO_RATE
        frame.pts = i
        frames.append(frame)
    return stream, frames


def mux_frames(container: Any, stream: Any, frames: np.ndarray) -> None:
    """Encode BGR ``frames`` (N, H, W, 3) into ``stream``, then flush it."""
    for f in range(len(frames)):
        vf = av.VideoFrame.from_ndarray(frames[f], format="bgr24").reformat(
            format="yuv420p", threads=1
        )
        vf.pts = f
        container.mux(stream.encode(vf))
    container.mux(stream.encode(None))


@dataclass(frozen=True)
class _FrameRecords:
    """The truth of the drawn frames: per-frame entries, instance centroid tracks, coverages."""

    per_frame: list[dict[str, Any]] = field(default_factory=list)
    centroids: dict[int, list[tuple[int, float, float]]] = field(default_factory=dict)
    coverages: list[float] = field(default_factory=list)

    def add(
        self,
        f: int,
        scene: _Scene,
        is_static: bool,
        mask: np.ndarray,
        boxes: list[dict[str, Any]],
        distractors: list[list[int]],
        faces: list[list[int]] | None,
    ) -> None:
        """Record frame ``f``: its instances (coverage, centroids) and its per-frame entry
        (with its face boxes unless ``faces`` is None: a world without faces)."""
        ids = [int(v) for v in np.flatnonzero(np.bincount(mask.ravel())) if v]
        if ids:
            self.coverages.append(float(np.count_nonzero(mask)) / mask.size)
            for i in ids:
                ys, xs = np.nonzero(mask == i)
                self.centroids.setdefault(i, []).append((f, float(xs.mean()), float(ys.mean())))
        self.per_frame.append(
            {
                "frame": f,
                "scene": scene.index,
                "static": bool(is_static),
                "instances": ids,
                "watermarks": boxes,
                "distractors": distractors,
                **({"faces": faces} if faces is not None else {}),
            }
        )


def _draw_frames(
    spec: VideoSpec,
    scenes: list[_Scene],
    times: np.ndarray,
    empty: np.ndarray,
    rendered: np.ndarray,
    regions: np.ndarray,
    write_mask: Callable[[np.ndarray], None],
) -> _FrameRecords:
    """Draw every frame into ``rendered`` (its target mask into ``regions``), write its truth
    mask and record its truth."""
    scene_of = np.zeros(spec.frames, np.int64)
    for scene in scenes:
        scene_of[scene.start : scene.end] = scene.index
    records = _FrameRecords()
    prev: tuple[Any, ...] | None = None
    for f in range(spec.frames):
        scene = scenes[int(scene_of[f])]
        is_static = f > scene.start and times[f] == times[f - 1]
        if is_static and prev is not None:
            image, mask, boxes, distractors, faces = prev
        else:
            image, mask, boxes, distractors, faces = _render_frame(
                spec, scene, int(times[f]), bool(empty[f])
            )
        prev = (image, mask, boxes, distractors, faces)
        records.add(
            f, scene, is_static, mask, boxes, distractors, faces if spec.faces is not None else None
        )
        rendered[f] = image
        regions[f] = mask > 0
        write_mask(mask)
    return records


def _degrade_scenes(
    spec: VideoSpec,
    scenes: list[_Scene],
    degradations: list[dict[str, Any] | None],
    rendered: np.ndarray,
    regions: np.ndarray,
) -> None:
    """Apply each scene's degradation (if any) to its drawn frames, in place."""
    for scene, degradation in zip(scenes, degradations, strict=True):
        if degradation is not None:
            span = slice(scene.start, scene.end)
            rendered[span] = degrade_scene(
                np.asarray(rendered[span]), np.asarray(regions[span]), degradation, spec.fps
            )


def _mux_audio(container: Any, stream: Any, frames: list[Any]) -> None:
    """Encode the audio ``frames`` into ``stream``, then flush it."""
    for frame in frames:
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _render_result(spec: VideoSpec, scenes: list[_Scene], records: _FrameRecords) -> RenderResult:
    """The statistics of a rendered video from its scenes and frame records."""
    steps = []
    for track in records.centroids.values():
        for (f0, x0, y0), (f1, x1, y1) in itertools.pairwise(track):
            if f1 == f0 + 1:
                steps.append(math.hypot(x1 - x0, y1 - y0))
    per_frame, coverages = records.per_frame, records.coverages
    return RenderResult(
        name=spec.name,
        frames=spec.frames,
        empty_frames=sum(1 for p in per_frame if not p["instances"]),
        static_frames=sum(1 for p in per_frame if p["static"]),
        scenes=len(scenes),
        watermark_scenes=sum(1 for s in scenes if s.watermarks),
        instances=len(records.centroids),
        has_audio=bool(spec.audio),
        mean_motion_px=round(float(np.mean(steps)) if steps else 0.0, 4),
        coverage_min=round(min(coverages), 6) if coverages else 0.0,
        coverage_max=round(max(coverages), 6) if coverages else 0.0,
    )


def _truth(
    spec: VideoSpec,
    scenes: list[_Scene],
    degradations: list[dict[str, Any] | None],
    result: RenderResult,
    per_frame: list[dict[str, Any]],
) -> dict[str, Any]:
    """The truth JSON of a rendered video (see the module docstring)."""
    return {
        "version": TRUTH_VERSION,
        "name": spec.name,
        "role": spec.role,
        "fps": spec.fps,
        "width": spec.width,
        "height": spec.height,
        "frames": spec.frames,
        "mask_encoding": MASK_ENCODING,
        "classes": list(WATERMARK_CLASSES),
        "audio": bool(spec.audio),
        "spec": spec.to_dict(),
        "scenes": [
            {
                "id": s.index,
                "start": s.start,
                "end": s.end,
                "background": s.background,
                "targets": [t.instance for t in s.targets],
                "distractors": len(s.distractors),
                "watermarked": bool(s.watermarks),
                **({"faces": len(s.heads)} if spec.faces is not None else {}),
                "degraded": degradation,
            }
            for s, degradation in zip(scenes, degradations, strict=True)
        ],
        "stats": result.to_dict(),
        "per_frame": per_frame,
    }


def render_video(
    spec: VideoSpec, video_out: Path, truth_out: Path, truth_json_out: Path
) -> RenderResult:
    """Render one world video with its truth masks and truth JSON, all written atomically.

    Args:
        spec: the video's resolved parameters (from :func:`mosaicflow.world.video_specs`).
        video_out: the H.264 .mp4 to write (with an AAC track when ``spec.audio``).
        truth_out: the FFV1 .mkv of per-frame instance ids (0 = background).
        truth_json_out: the truth JSON (see the module docstring).

    Returns:
        Statistics of the rendered video.
    """
    rng = np.random.default_rng(spec.seed)
    scenes, times, empty = _plan(spec, rng)
    _plan_faces(spec, scenes)
    degradations = draw_scene_degradations(
        spec.degraded, spec.seed, len(scenes), [bool(s.targets) for s in scenes]
    )
    video_out, truth_out, truth_json_out = Path(video_out), Path(truth_out), Path(truth_json_out)
    video_out.parent.mkdir(parents=True, exist_ok=True)
    bitexact = {"fflags": "+bitexact"}
    with (
        tempfile.TemporaryDirectory(prefix=".render-", dir=video_out.parent) as scratch,
        atomic_path(video_out) as vtmp,
        truth_mask_writer(truth_out, spec.fps, spec.width, spec.height) as write_mask,
        av.open(str(vtmp), "w", container_options=bitexact) as vc,
    ):
        vs = add_h264_stream(vc, spec.width, spec.height, spec.fps, spec.crf)
        audio = _add_audio(vc, _audio_samples(spec, scenes, rng)) if spec.audio else None
        rendered = np.lib.format.open_memmap(  # the drawn frames, on disk (any video size)
            Path(scratch) / "frames.npy", "w+", np.uint8, (spec.frames, spec.height, spec.width, 3)
        )
        regions = np.lib.format.open_memmap(  # target masks, for scenes pixelated at the source
            Path(scratch) / "regions.npy", "w+", np.uint8, (spec.frames, spec.height, spec.width)
        )
        records = _draw_frames(spec, scenes, times, empty, rendered, regions, write_mask)
        _degrade_scenes(spec, scenes, degradations, rendered, regions)
        # H.264 only after every frame is drawn: x264's output varied from run to run (same
        # input frames, one encoder thread) while OpenCV's worker threads drew between frames.
        mux_frames(vc, vs, rendered)
        if audio is not None:
            _mux_audio(vc, *audio)
    result = _render_result(spec, scenes, records)
    write_truth_json(truth_json_out, _truth(spec, scenes, degradations, result, records.per_frame))
    return result
