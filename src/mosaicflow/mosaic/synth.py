"""Mosaic (pixelation) synthesis: one parameter set and one block grid per clip.

Real censored video pixelates every frame of a scene with the same block size, shape and grid,
while the covered region moves. ``sample_clip_params`` draws that parameter set once (seeded),
``apply_mosaic`` applies it to a clip ``(T, H, W, C)`` or an image ``(H, W, C)``.

Pipeline per clip: extend the region masks (dilation / closing, same kernels for every frame)
-> select the grid blocks covered by the extended mask (block centre inside, or any pixel)
-> fill each selected block with its mean (``*_avg``) or its centre pixel (``squa_mid``)
-> optionally feather (blend with the original by a box-blurred extended mask).
Everything is vectorised: block means come from OpenCV area resampling of at most nine tiles of
equal block size, expansion from nearest-neighbour resampling; there is no loop over blocks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from mosaicflow.mosaic.blocksize import estimate_block_sizes, region_stats
from mosaicflow.mosaic.config import SHAPES, MosaicConfig

PARAMS_VERSION = 1


@dataclass(frozen=True)
class MosaicParams:
    """Everything that defines the mosaic of one clip (JSON-serialisable via ``to_dict``).

    Attributes:
        block_h, block_w: block size in pixels (``block_w > block_h`` only for ``rect_avg``).
        shape: ``squa_mid``, ``squa_avg`` or ``rect_avg``.
        offset_y, offset_x: grid offset; block boundaries lie at ``y % block_h == offset_y``.
        feather: box-blur kernel width of the feathering in pixels (0 = hard edges).
        dilate_radius, close_radius: mask extension radii in pixels (0 = none).
        incomplete_blocks: pixelate edge blocks only inside the extended mask.
        block_select: ``center`` or ``any`` (complete-block mode).
        method, base_size, size_scale, rect_ratio, estimates: how the size was chosen (metadata).
        frame_shape: ``(H, W)`` the parameters were drawn for.
    """

    block_h: int
    block_w: int
    shape: str
    offset_y: int
    offset_x: int
    feather: int
    dilate_radius: int
    close_radius: int
    incomplete_blocks: bool
    block_select: str
    method: str = "fixed"
    base_size: float = 0.0
    size_scale: float = 1.0
    rect_ratio: float = 1.0
    estimates: Mapping[str, float] = field(default_factory=dict)
    frame_shape: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if self.block_h < 1 or self.block_w < 1:
            raise ValueError(f"block size must be >= 1, got {self.block_h}x{self.block_w}")
        if self.shape not in SHAPES:
            raise ValueError(f"unknown mosaic shape {self.shape!r}; expected one of {SHAPES}")
        if not (0 <= self.offset_y < self.block_h and 0 <= self.offset_x < self.block_w):
            raise ValueError("grid offset must lie in [0, block size)")
        if min(self.feather, self.dilate_radius, self.close_radius) < 0:
            raise ValueError("feather and mask extension radii must be >= 0")
        if self.block_select not in ("center", "any"):
            raise ValueError(f"block_select must be 'center' or 'any', got {self.block_select!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (with a ``version`` field) for clip metadata."""
        data = asdict(self)
        data["estimates"] = dict(self.estimates)
        data["frame_shape"] = list(self.frame_shape)
        data["version"] = PARAMS_VERSION
        return json.loads(json.dumps(data))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MosaicParams:
        """Inverse of ``to_dict``; fails on an unknown version."""
        data = dict(data)
        version = data.pop("version", PARAMS_VERSION)
        if version != PARAMS_VERSION:
            raise ValueError(f"mosaic params version {version} not supported ({PARAMS_VERSION})")
        data["frame_shape"] = tuple(data.get("frame_shape", (0, 0)))
        return cls(**data)

    def rescaled(self, factor: float) -> MosaicParams:
        """The same mosaic for frames resized by ``factor`` (e.g. crops resized to 256 px)."""

        def px(value: int, minimum: int) -> int:
            return max(minimum, round(value * factor))

        block_h, block_w = px(self.block_h, 1), px(self.block_w, 1)
        return replace(
            self,
            block_h=block_h,
            block_w=block_w,
            offset_y=min(px(self.offset_y, 0), block_h - 1),
            offset_x=min(px(self.offset_x, 0), block_w - 1),
            feather=px(self.feather, 0) if self.feather else 0,
            dilate_radius=px(self.dilate_radius, 0) if self.dilate_radius else 0,
            close_radius=px(self.close_radius, 0) if self.close_radius else 0,
            frame_shape=(round(self.frame_shape[0] * factor), round(self.frame_shape[1] * factor)),
        )


def sample_clip_params(
    cfg: MosaicConfig,
    region: np.ndarray | Sequence[float],
    frame_shape: Sequence[int],
    rng: np.random.Generator,
) -> MosaicParams:
    """Draw the mosaic parameters of one clip (or image).

    Args:
        cfg: the `mosaic:` config.
        region: the region as a mask ``(H, W)``, masks of the clip ``(T, H, W)`` or a box
            ``(x0, y0, x1, y1)``, in the pixel coordinates of ``frame_shape``.
        frame_shape: ``(H, W)`` (or ``(H, W, C)``) of the frames the mosaic is applied to.
        rng: the clip's generator, e.g. ``np.random.default_rng([seed, clip_index])``.

    Returns:
        A ``MosaicParams`` holding every random choice and all four block-size estimates.
    """
    h, w = int(frame_shape[0]), int(frame_shape[1])
    stats = region_stats(region)
    estimates = estimate_block_sizes(
        stats,
        (h, w),
        area_measure=cfg.area_measure,
        jitter=cfg.sigmoid_jitter,
        coverage_range=cfg.coverage_range,
        rng=rng,
        min_size=cfg.min_block_size,
    )
    base = estimates[cfg.block_size_method]
    scale = float(rng.uniform(*cfg.size_scale))
    block = max(cfg.min_block_size, round(base * scale))
    shape = SHAPES[int(rng.choice(len(SHAPES), p=cfg.shapes.probabilities()))]
    ratio = float(rng.uniform(*cfg.rect_ratio))
    block_w = max(block + 1, round(block * ratio)) if shape == "rect_avg" else block
    feather = 0
    if rng.random() < cfg.feather.p:
        feather = round(block * rng.uniform(*cfg.feather.width))
    ext = cfg.mask_extension
    dilate = round(block * rng.uniform(*ext.dilate_radius)) if rng.random() < ext.dilate_p else 0
    close = round(block * rng.uniform(*ext.close_radius)) if rng.random() < ext.close_p else 0
    if cfg.random_grid_offset:
        offset_y, offset_x = int(rng.integers(block)), int(rng.integers(block_w))
    else:
        offset_y = offset_x = 0
    incomplete = bool(rng.random() < cfg.incomplete_blocks_p)
    return MosaicParams(
        block_h=int(block),
        block_w=int(block_w),
        shape=shape,
        offset_y=offset_y,
        offset_x=offset_x,
        feather=int(feather),
        dilate_radius=int(dilate),
        close_radius=int(close),
        incomplete_blocks=incomplete,
        block_select=cfg.block_select,
        method=cfg.block_size_method,
        base_size=float(base),
        size_scale=round(scale, 6),
        rect_ratio=round(ratio, 6) if shape == "rect_avg" else 1.0,
        estimates=estimates,
        frame_shape=(h, w),
    )


def _ellipse(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


# Extensions with a radius above this many pixels run on a max-pooled copy of the mask (factor
# ceil(radius / _EXACT_RADIUS)); the result contains the exact one and exceeds it by at most
# about two pooling cells, far below the block size the mosaic quantises to anyway.
_EXACT_RADIUS = 6


def _morph(mask: np.ndarray, radius: int, op: int, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Dilate or close a 0/255 mask with a disk of ``radius`` (border treated as replicate).

    ``origin`` is the mask's position in the frame: pooling cells align to frame coordinates,
    so a window of a frame gets the same extension as the whole frame.
    """
    scale = max(1, -(-radius // _EXACT_RADIUS))
    scale = min(scale, 22)  # keeps one set pixel visible after area pooling (255 / 22^2 > 0.5)
    small = mask
    top, left = origin[0] % scale, origin[1] % scale
    if scale > 1:
        h, w = mask.shape[0] + top, mask.shape[1] + left
        ph, pw = -(-h // scale) * scale, -(-w // scale) * scale
        padded = cv2.copyMakeBorder(mask, top, ph - h, left, pw - w, cv2.BORDER_CONSTANT, value=0)
        small = cv2.resize(padded, (pw // scale, ph // scale), interpolation=cv2.INTER_AREA)
        small = _binary(small)
    r = -(-radius // scale)
    kernel = _ellipse(r)
    if op == cv2.MORPH_CLOSE:
        padded_small = cv2.copyMakeBorder(small, r, r, r, r, cv2.BORDER_REPLICATE)
        small = cv2.morphologyEx(padded_small, cv2.MORPH_CLOSE, kernel)[r:-r, r:-r]
    else:
        small = cv2.dilate(small, kernel)
    if scale == 1:
        return small
    big = cv2.resize(
        small,
        (small.shape[1] * scale, small.shape[0] * scale),
        interpolation=cv2.INTER_NEAREST_EXACT,
    )
    return cv2.bitwise_or(big[top : top + mask.shape[0], left : left + mask.shape[1]], mask)


def extend_masks(
    masks: np.ndarray, params: MosaicParams, origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Binarise and extend masks ``(T, H, W)`` (closing, then dilation); returns uint8 0/255.

    Radii up to 6 px are exact (elliptic kernels); larger ones run on a max-pooled mask, so the
    extension is a slight over-estimate of the exact one and always contains the input mask.
    """
    out = np.empty(masks.shape, dtype=np.uint8)
    for t in range(len(masks)):
        frame = _binary(_as_u8(masks[t]))
        if frame.any():
            if params.close_radius:
                frame = _morph(frame, params.close_radius, cv2.MORPH_CLOSE, origin)
            if params.dilate_radius:
                frame = _morph(frame, params.dilate_radius, cv2.MORPH_DILATE, origin)
        out[t] = frame
    return out


def _binary(mask: np.ndarray) -> np.ndarray:
    """uint8 mask -> 0/255 (non-zero -> 255), any shape."""
    return cv2.threshold(mask, 0, 255, cv2.THRESH_BINARY)[1].reshape(mask.shape)


def _as_u8(mask: np.ndarray) -> np.ndarray:
    return mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8, copy=False)


@dataclass(frozen=True)
class _Axis:
    """The grid along one axis, restricted to the blocks a crop touches."""

    start: int  # first pixel of the crop (clipped to the frame)
    stop: int  # end of the crop (exclusive)
    lead: int  # pixels of the first block that lie before ``start`` (outside the frame)
    segments: tuple[tuple[int, int, int], ...]  # (pixel from, pixel to, blocks) of equal size
    centres: np.ndarray  # per block, the centre of its visible part (crop coordinates)
    starts: np.ndarray  # per block, the first visible pixel (crop coordinates)

    @property
    def blocks(self) -> int:
        return len(self.starts)


def _axis(lo: int, hi: int, size: int, offset: int, length: int) -> _Axis:
    """Grid blocks covering pixels ``[lo, hi)`` on an axis of ``length`` pixels."""
    first = offset - size if offset else 0  # start of block 0 (<= 0)
    b0 = (lo - first) // size
    b1 = (hi - 1 - first) // size + 1
    p0, p1 = first + b0 * size, first + b1 * size
    start, stop = max(p0, 0), min(p1, length)
    edges = np.clip(np.arange(p0, p1 + 1, size), start, stop) - start
    starts, ends = edges[:-1], edges[1:]
    centres = (starts + ends - 1) // 2
    segments: list[tuple[int, int, int]] = []
    sizes = ends - starts
    i = 0
    while i < len(sizes):
        j = i
        while j + 1 < len(sizes) and sizes[j + 1] == sizes[i]:
            j += 1
        segments.append((int(starts[i]), int(ends[j]), j - i + 1))
        i = j + 1
    return _Axis(start, stop, start - p0, tuple(segments), centres, starts)


def _block_means(crop: np.ndarray, ay: _Axis, ax: _Axis) -> np.ndarray:
    """Mean of every block of ``crop`` (visible pixels only), shape ``(by, bx, ...)``."""
    out = np.empty((ay.blocks, ax.blocks, *crop.shape[2:]), dtype=crop.dtype)
    by = 0
    for y0, y1, ny in ay.segments:
        bx = 0
        for x0, x1, nx in ax.segments:
            tile = cv2.resize(crop[y0:y1, x0:x1], (nx, ny), interpolation=cv2.INTER_AREA)
            out[by : by + ny, bx : bx + nx] = tile.reshape(ny, nx, *crop.shape[2:])
            bx += nx
        by += ny
    return out


def _expand(values: np.ndarray, ay: _Axis, ax: _Axis, bh: int, bw: int) -> np.ndarray:
    """Blocks ``(by, bx, ...)`` -> pixels of the crop (nearest, integer factors).

    ``INTER_NEAREST_EXACT``: plain ``INTER_NEAREST`` misplaces rows and columns for some
    factors (with 49 px blocks, every block's first row took the previous block's value).
    """
    full = cv2.resize(
        values, (ax.blocks * bw, ay.blocks * bh), interpolation=cv2.INTER_NEAREST_EXACT
    )
    full = full.reshape(ay.blocks * bh, ax.blocks * bw, *values.shape[2:])
    return full[ay.lead : ay.lead + ay.stop - ay.start, ax.lead : ax.lead + ax.stop - ax.start]


def _check_inputs(frames: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    single = frames.ndim == 3
    clip = frames[None] if single else frames
    mclip = masks[None] if masks.ndim == 2 else masks
    if clip.ndim != 4 or clip.dtype != np.uint8 or not 1 <= clip.shape[-1] <= 4:
        raise ValueError(
            f"frames must be uint8 (T, H, W, C) or (H, W, C), got {frames.dtype} {frames.shape}"
        )
    if mclip.shape != clip.shape[:3]:
        raise ValueError(f"masks shape {masks.shape} does not match frames shape {frames.shape}")
    return clip, mclip, single


def apply_mosaic(
    frames: np.ndarray, masks: np.ndarray, params: MosaicParams
) -> tuple[np.ndarray, np.ndarray]:
    """Pixelate the masked region of a clip (one grid for all frames) or of an image.

    Args:
        frames: uint8 ``(T, H, W, C)`` clip or ``(H, W, C)`` image (not modified).
        masks: region masks ``(T, H, W)`` or ``(H, W)``, bool or uint8 (non-zero = region).
        params: the clip's parameters from ``sample_clip_params`` (or built by hand).

    Returns:
        ``(mosaic_frames, mosaic_mask)``: frames of the input shape, and the block-aligned mask
        of the pixelated pixels as uint8 0/255 of the masks' shape. Pixels outside the mosaic
        mask are bit-identical to the input.

    Raises:
        ValueError: for wrong dtypes or shapes.
    """
    clip, mclip, single = _check_inputs(frames, masks)
    t_len, height, width = clip.shape[:3]
    out = clip.copy()
    mosaic_mask = np.zeros((t_len, height, width), dtype=np.uint8)
    boxes = [cv2.boundingRect(_as_u8(m)) for m in mclip]
    boxes = [b for b in boxes if b[2] and b[3]]
    if boxes:
        # Work on a window around the regions: wide enough that the extension, the blocks
        # and the feathering never reach its edges unless those are the frame's edges.
        margin = (
            params.close_radius
            + params.dilate_radius
            + max(params.block_h, params.block_w)
            + params.feather // 2
            + 2
        )
        y0 = max(min(b[1] for b in boxes) - margin, 0)
        x0 = max(min(b[0] for b in boxes) - margin, 0)
        y1 = min(max(b[1] + b[3] for b in boxes) + margin, height)
        x1 = min(max(b[0] + b[2] for b in boxes) + margin, width)
        ext = extend_masks(mclip[:, y0:y1, x0:x1], params, origin=(y0, x0))
        union = ext.max(axis=0)
        if union.any():
            x, y, w, h = cv2.boundingRect(union)
            sub = replace(
                params,
                offset_y=(params.offset_y - y0) % params.block_h,
                offset_x=(params.offset_x - x0) % params.block_w,
            )
            ay = _axis(y, y + h, sub.block_h, sub.offset_y, y1 - y0)
            ax = _axis(x, x + w, sub.block_w, sub.offset_x, x1 - x0)
            for t in range(t_len):
                _mosaic_frame(
                    clip[t, y0:y1, x0:x1],
                    ext[t],
                    sub,
                    ay,
                    ax,
                    out[t, y0:y1, x0:x1],
                    mosaic_mask[t, y0:y1, x0:x1],
                )
    if single:
        return out[0], mosaic_mask[0]
    return out, mosaic_mask


def _mosaic_frame(
    frame: np.ndarray,
    ext: np.ndarray,
    params: MosaicParams,
    ay: _Axis,
    ax: _Axis,
    out: np.ndarray,
    mask_out: np.ndarray,
) -> None:
    """Pixelate one frame in place (``out``/``mask_out`` are views of the outputs)."""
    ys, xs = slice(ay.start, ay.stop), slice(ax.start, ax.stop)
    ecrop = ext[ys, xs]
    if not ecrop.any():
        return
    crop = frame[ys, xs]
    touch_any = params.incomplete_blocks or params.block_select == "any"
    if touch_any:
        selected = _block_means(ecrop.astype(np.float32), ay, ax) > 0
    else:
        selected = ecrop[np.ix_(ay.centres, ax.centres)] > 0
    if not selected.any():
        return
    if params.shape == "squa_mid":
        values = crop[np.ix_(ay.centres, ax.centres)]
    else:
        values = _block_means(crop, ay, ax)
    mosaic = _expand(values, ay, ax, params.block_h, params.block_w)
    pixels = _expand(selected.astype(np.uint8) * 255, ay, ax, params.block_h, params.block_w)
    if params.incomplete_blocks:
        pixels = cv2.bitwise_and(pixels, ecrop)
    if params.feather > 1:
        mosaic = _feather(mosaic, crop, ext, ay, ax, params.feather)
    target = out[ys, xs]
    written = cv2.copyTo(mosaic, pixels, target)  # in place: OpenCV wraps the strided view
    if written is not target:  # pragma: no cover - a layout OpenCV had to copy
        target[...] = written.reshape(target.shape)
    mask_out[ys, xs] = pixels


def _feather(
    mosaic: np.ndarray, crop: np.ndarray, ext: np.ndarray, ay: _Axis, ax: _Axis, width: int
) -> np.ndarray:
    """Blend mosaic and original by the box-blurred extended mask (computed with a margin)."""
    height, width_px = ext.shape
    m = width // 2 + 1
    y0, y1 = max(ay.start - m, 0), min(ay.stop + m, height)
    x0, x1 = max(ax.start - m, 0), min(ax.stop + m, width_px)
    region = ext[y0:y1, x0:x1].astype(np.float32) * (1.0 / 255.0)
    alpha = cv2.blur(region, (width, width))
    alpha = alpha[ay.start - y0 : ay.stop - y0, ax.start - x0 : ax.stop - x0]
    blended = cv2.blendLinear(mosaic, crop, alpha, 1.0 - alpha)
    return blended.reshape(mosaic.shape)
