"""Contact sheet: every block shape and block-size family on a real photo, for review."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from mosaicflow.io import atomic_path
from mosaicflow.mosaic.config import BLOCK_SIZE_METHODS, MosaicConfig
from mosaicflow.mosaic.synth import MosaicParams, apply_mosaic, sample_clip_params

TILE = 256
LABEL_H = 22


def default_config() -> MosaicConfig:
    """The `mosaic:` config with every value at its schema default."""
    from mosaicflow.config import build, validate_config

    config: dict = {}
    validate_config(config)
    return build(MosaicConfig, config["mosaic"])


def _photo() -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """skimage's astronaut (shipped with the wheel), an elliptic face region, the tile origin."""
    import skimage.data

    image = np.ascontiguousarray(skimage.data.astronaut())
    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    cv2.ellipse(mask, (232, 118), (52, 68), 0, 0, 360, 255, -1)
    return image, mask, (0, 232 - TILE // 2)


def _tile(image: np.ndarray, origin: tuple[int, int], label: str) -> np.ndarray:
    y, x = origin
    crop = image[y : y + TILE, x : x + TILE]
    canvas = np.full((TILE + LABEL_H, TILE, 3), 255, dtype=np.uint8)
    canvas[LABEL_H:] = crop
    cv2.putText(canvas, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def contact_sheet(out_png: Path, seed: int, cfg: MosaicConfig | None = None) -> Path:
    """Write a PNG grid of mosaics on a real photo: shapes x block-size families.

    Rows: ``squa_mid``, ``squa_avg``, ``rect_avg``, feathered, incomplete blocks, extended mask,
    and a row of parameter sets drawn at random with ``seed``. Columns: the four block-size
    estimators at scale 1, then the smallest and largest configured scale.

    Args:
        out_png: where to write the sheet (atomically).
        seed: seed of the random row (and of the sigmoid estimator's offset).
        cfg: the `mosaic:` config; schema defaults when omitted.

    Returns:
        ``out_png``.
    """
    cfg = cfg or default_config()
    image, mask, origin = _photo()
    base = sample_clip_params(cfg, mask, image.shape, np.random.default_rng(seed))
    estimates = base.estimates
    columns: list[tuple[str, float]] = [(m, 1.0) for m in BLOCK_SIZE_METHODS]
    columns += [
        (cfg.block_size_method, cfg.size_scale[0]),
        (cfg.block_size_method, cfg.size_scale[1]),
    ]
    plain = replace(
        base,
        feather=0,
        dilate_radius=0,
        close_radius=0,
        incomplete_blocks=False,
        offset_y=0,
        offset_x=0,
        block_select="center",
    )
    rows: list[tuple[str, dict]] = [
        ("squa_mid", {"shape": "squa_mid"}),
        ("squa_avg", {"shape": "squa_avg"}),
        ("rect_avg 1.5", {"shape": "rect_avg", "rect": 1.5}),
        ("avg feather 1.5x", {"shape": "squa_avg", "feather": 1.5}),
        ("rect incomplete", {"shape": "rect_avg", "rect": 1.5, "incomplete_blocks": True}),
        ("avg dilate+close", {"shape": "squa_avg", "dilate": 1.0, "close": 1.5}),
    ]
    sheet_rows = []
    for row_label, spec in rows:
        tiles = []
        for method, scale in columns:
            size = max(cfg.min_block_size, round(estimates[method] * scale))
            width = max(size + 1, round(size * spec.get("rect", 1.0))) if "rect" in spec else size
            params = replace(
                plain,
                block_h=size,
                block_w=width,
                shape=spec["shape"],
                feather=round(size * spec.get("feather", 0.0)),
                dilate_radius=round(size * spec.get("dilate", 0.0)),
                close_radius=round(size * spec.get("close", 0.0)),
                incomplete_blocks=spec.get("incomplete_blocks", False),
                method=method,
                size_scale=scale,
            )
            out, _ = apply_mosaic(image, mask, params)
            tiles.append(_tile(out, origin, f"{row_label} | {method} x{scale:g} = {size}px"))
        sheet_rows.append(np.hstack(tiles))
    rng = np.random.default_rng(seed)
    tiles = []
    for _ in columns:
        params = sample_clip_params(cfg, mask, image.shape, rng)
        out, _ = apply_mosaic(image, mask, params)
        tiles.append(_tile(out, origin, _describe(params)))
    sheet_rows.append(np.hstack(tiles))
    sheet = np.vstack(sheet_rows)
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise RuntimeError(f"could not write {out_png}")
    return out_png


def _describe(params: MosaicParams) -> str:
    text = f"random {params.shape} {params.block_w}x{params.block_h}"
    if params.feather:
        text += f" f{params.feather}"
    if params.incomplete_blocks:
        text += " inc"
    return text
