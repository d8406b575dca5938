"""A watermark detection set made from your own footage: text and logos pasted on its frames.

Rule ``build_watermark_dataset`` samples frames of the source videos, and on each pastes a few
watermarks as platforms and studios put them (in a corner with a margin, anywhere else on the
frame, or a faint mark tiled over it) at a random opacity. It writes them as a YOLO detection
set with the two classes :data:`CLASSES`. The watermark detector trains on it when no set is given
(``source.watermark_dataset``).

- **Text**: a handle, a web address, a word or a studio name with digits, in Latin, Cyrillic or
  Greek, or in CJK when a Noto CJK font is installed (Debian's ``fonts-noto-cjk``), with the
  DejaVu fonts matplotlib ships and any font files the config names; an outline or a shadow
  sometimes.
- **Logo**: a drawn shape (circle, ring, rounded square, triangle, diamond, star), filled or
  outlined, with one to three letters inside, in one colour or with the letters in a second.

Everything is drawn from the seed, the video and the frame, so the set is the same on every
run. Frames are used as they are: a real watermark already in the footage is not labelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mosaicflow.config import ConfigError
from mosaicflow.formats.scaling import shrink

#: The classes of the set, in label-id order (the demo world's watermark set uses the same).
CLASSES = ("text", "logo")
#: Where Debian's ``fonts-noto-cjk`` puts its fonts (used when present).
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
_DEJAVU = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
)
_ALPHABETS = {
    "latin": "abcdefghijklmnopqrstuvwxyz",
    "cyrillic": "абвгдежзиклмнопрстуфхцчшэюя",
    "greek": "αβγδεζηθικλμνξοπρστυφχψω",
    "cjk": "视频影像工作室高清无码官方独家日本中国网站字幕动漫原创精品直播免费会员",
}
#: Least brightness difference (grey levels) between a watermark's colour and what it covers.
MIN_CONTRAST = 60.0
_WORDS = ("studio", "films", "media", "video", "tv", "hd", "official", "cams", "premium", "club")
_TLDS = (".com", ".tv", ".net", ".xxx", ".org", ".cc")


@dataclass(frozen=True)
class WatermarkSetConfig:
    """The ``watermark_set`` section: how many images, and how their watermarks look."""

    use: str
    images_per_video: int
    imgsz: int
    val_fraction: float
    empty_p: float
    marks: tuple[int, int]
    text_p: float
    alpha: tuple[float, float]
    text_height: tuple[float, float]
    logo_size: tuple[float, float]
    corner_p: float
    tile_p: float
    fonts: tuple[str, ...]

    def __post_init__(self) -> None:
        for key in ("val_fraction", "empty_p", "text_p", "corner_p", "tile_p"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"config key 'watermark_set.{key}': must be in [0, 1]")
        for key in ("marks", "alpha", "text_height", "logo_size"):
            low, high = getattr(self, key)
            if low > high or low < 0:
                raise ConfigError(
                    f"config key 'watermark_set.{key}': expected [low, high], 0 <= low <= high"
                )


@dataclass(frozen=True)
class Mark:
    """One pasted watermark: its class and ``(x0, y0, x1, y1)`` box in image pixels."""

    label: str
    box: tuple[int, int, int, int]


def font_files(extra: Sequence[str] = ()) -> dict[str, list[Path]]:
    """Font files per script: the DejaVu fonts matplotlib ships (Latin, Cyrillic, Greek), the
    Noto CJK fonts when installed, and ``extra`` (``watermark_set.fonts``) for every script.

    Raises:
        FileNotFoundError: naming the key for an extra font that does not exist.
    """
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    dejavu = [folder / name for name in _DEJAVU if (folder / name).is_file()]
    users = []
    for name in extra:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"config key 'watermark_set.fonts': no font file {path}")
        users.append(path)
    fonts = {script: dejavu + users for script in ("latin", "cyrillic", "greek")}
    cjk = [Path(p) for p in CJK_FONTS if Path(p).is_file()]
    if cjk:
        fonts["cjk"] = cjk + users
    return fonts


def random_text(rng: np.random.Generator, script: str) -> str:
    """A watermark-like text: a handle, a web address or a name, with digits sometimes."""
    letters = _ALPHABETS[script]
    length = int(rng.integers(2, 5)) if script == "cjk" else int(rng.integers(3, 10))
    name = "".join(letters[int(rng.integers(len(letters)))] for _ in range(length))
    if script == "latin" and rng.random() < 0.5:
        name = str(_WORDS[int(rng.integers(len(_WORDS)))]) + name[: int(rng.integers(0, 5))]
    if rng.random() < 0.4:
        name += str(int(rng.integers(1, 99999)))
    form = int(rng.integers(4))
    if form == 0:
        return "@" + name
    if form == 1 and script == "latin":
        return "www." + name + str(_TLDS[int(rng.integers(len(_TLDS)))])
    if form == 2:
        return name.upper()
    return name.capitalize()


def _colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """White most often, then black, then any colour; one too close in brightness to the
    ``background`` it lands on becomes white or black, whichever stands out more."""
    u = rng.random()
    if u < 0.5:
        colour = np.full(3, 255.0, np.float32)
    elif u < 0.65:
        colour = np.zeros(3, np.float32)
    else:
        colour = rng.uniform(0, 255, 3).astype(np.float32)
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    ground = float(background.reshape(-1, 3).mean(axis=0) @ weights) if background.size else 128.0
    if abs(float(colour @ weights) - ground) < MIN_CONTRAST:
        colour = np.full(3, 0.0 if ground > 127.5 else 255.0, np.float32)
    return colour


def text_layer(text: str, font: Path, height: int, rng: np.random.Generator) -> np.ndarray:
    """The text's coverage in [0, 1] (H, W), about ``height`` px tall, with an outline or a
    shadow sometimes."""
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype(str(font), size=max(6, height))
    x0, y0, x1, y1 = face.getbbox(text)
    pad = max(2, height // 6)
    canvas = Image.new("L", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 0)
    draw = ImageDraw.Draw(canvas)
    origin = (pad - x0, pad - y0)
    effect = rng.random()
    if effect < 0.2:
        draw.text(origin, text, font=face, fill=255, stroke_width=max(1, height // 12))
    elif effect < 0.35:
        shift = max(1, height // 14)
        draw.text((origin[0] + shift, origin[1] + shift), text, font=face, fill=110)
    draw.text(origin, text, font=face, fill=255)
    return np.asarray(canvas, np.float32) / 255.0


def logo_layer(
    side: int, fonts: Sequence[Path], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """A drawn logo's coverage (side x side, in [0, 1]) and, for a two-colour logo, the
    coverage of its letters (drawn in a second colour); None for one colour."""
    a8 = np.zeros((side, side), np.uint8)
    c, r = side / 2, side / 2 - max(1, side // 16)
    thick = max(1, side // 12)
    filled = rng.random() < 0.5
    shape = int(rng.integers(6))
    if shape in (0, 1):  # circle, ring
        cv2.circle(a8, (side // 2, side // 2), int(r), 255, -1 if filled else thick, cv2.LINE_AA)
        if shape == 1:
            cv2.circle(a8, (side // 2, side // 2), int(r * 0.7), 255, thick, cv2.LINE_AA)
    else:
        corners = {2: 4, 3: 3, 4: 4, 5: 10}[shape]
        turn = math.pi / 4 if shape == 2 else -math.pi / 2
        radii = [r if shape != 5 or i % 2 == 0 else r * 0.45 for i in range(corners)]
        pts = np.array(
            [
                (c + radii[i] * math.cos(turn + 2 * math.pi * i / corners),
                 c + radii[i] * math.sin(turn + 2 * math.pi * i / corners))
                for i in range(corners)
            ],
            np.int32,
        )  # fmt: skip
        if filled:
            cv2.fillPoly(a8, [pts], 255, cv2.LINE_AA)
        else:
            cv2.polylines(a8, [pts], True, 255, thick, cv2.LINE_AA)
    letters = "".join(chr(int(rng.integers(65, 91))) for _ in range(int(rng.integers(1, 4))))
    font = fonts[int(rng.integers(len(fonts)))]
    glyphs = text_layer(letters, font, max(6, side // (2 + len(letters) // 2)), rng)
    gh, gw = glyphs.shape
    scale = min(1.0, 0.7 * side / max(gh, gw))
    glyphs = cv2.resize(glyphs, (max(1, round(gw * scale)), max(1, round(gh * scale))))
    gh, gw = glyphs.shape
    inner = np.zeros((side, side), np.float32)
    top, left = (side - gh) // 2, (side - gw) // 2
    inner[top : top + gh, left : left + gw] = glyphs
    base = a8.astype(np.float32) / 255.0
    if filled:
        return base, inner  # letters in a second colour over the shape
    return np.maximum(base, inner), None


def _place(
    rng: np.random.Generator, w: int, h: int, width: int, height: int, corner_p: float
) -> tuple[int, int]:
    """Top-left of a ``w`` x ``h`` mark: a corner (with a margin), else anywhere inside."""
    if rng.random() < corner_p:
        margin = int(rng.integers(2, max(3, min(width, height) // 20)))
        x = margin if rng.random() < 0.5 else width - w - margin
        y = margin if rng.random() < 0.5 else height - h - margin
        return max(0, x), max(0, y)
    return int(rng.integers(0, max(1, width - w))), int(rng.integers(0, max(1, height - h)))


def _paste(
    image: np.ndarray, colour: np.ndarray, cover: np.ndarray, x: int, y: int, alpha: float
) -> tuple[int, int, int, int] | None:
    """Blend ``colour`` at ``cover`` x ``alpha`` into ``image`` (float32, in place) at
    (x, y); the box of the clearly visible part, None when nothing shows."""
    height, width = image.shape[:2]
    h, w = cover.shape
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 <= x or y1 <= y:
        return None
    a = cover[: y1 - y, : x1 - x] * alpha
    roi = image[y:y1, x:x1]
    roi += a[..., None] * (colour - roi)
    solid = cover[: y1 - y, : x1 - x] >= 0.5
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if not len(rows):
        return None
    return x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1


def add_marks(
    image: np.ndarray,
    cfg: WatermarkSetConfig,
    fonts: dict[str, list[Path]],
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[Mark]]:
    """Paste ``cfg.marks`` watermarks (none with ``cfg.empty_p``) on an RGB uint8 image."""
    out = image.astype(np.float32)
    height, width = image.shape[:2]
    marks: list[Mark] = []
    if rng.random() < cfg.empty_p:
        return image.copy(), marks
    for _ in range(int(rng.integers(cfg.marks[0], cfg.marks[1] + 1))):
        alpha = float(rng.uniform(*cfg.alpha))
        second = None
        if rng.random() < cfg.text_p:
            cover, label = _text_cover(rng, cfg, fonts, width, height), "text"
            if rng.random() < cfg.tile_p:
                marks += _tile(out, cover, alpha * 0.6, rng)
                continue
        else:
            side = max(8, round(rng.uniform(*cfg.logo_size) * min(height, width)))
            (cover, second), label = logo_layer(side, fonts["latin"], rng), "logo"
        x, y = _place(rng, cover.shape[1], cover.shape[0], width, height, cfg.corner_p)
        colour = _colour(rng, out[y : y + cover.shape[0], x : x + cover.shape[1]])
        box = _paste(out, colour, cover, x, y, alpha)
        if second is not None:
            _paste(out, 255.0 - colour, second, x, y, alpha)
        if box is not None:
            marks.append(Mark(label, box))
    return np.clip(out, 0, 255).round().astype(np.uint8), marks


def _text_cover(
    rng: np.random.Generator,
    cfg: WatermarkSetConfig,
    fonts: dict[str, list[Path]],
    width: int,
    height: int,
) -> np.ndarray:
    """A random text's coverage in a random script and font, at most as wide as the image."""
    script = str(sorted(fonts)[int(rng.integers(len(fonts)))])
    font = fonts[script][int(rng.integers(len(fonts[script])))]
    size = max(6, round(rng.uniform(*cfg.text_height) * height))
    cover = text_layer(random_text(rng, script), font, size, rng)
    if cover.shape[1] > width - 4:
        scale = (width - 4) / cover.shape[1]
        new = (max(1, int(cover.shape[1] * scale)), max(1, int(cover.shape[0] * scale)))
        cover = cv2.resize(cover, new, interpolation=cv2.INTER_AREA)
    return cover


def _tile(
    image: np.ndarray, cover: np.ndarray, alpha: float, rng: np.random.Generator
) -> list[Mark]:
    """A faint text repeated on a grid over the whole image; every copy is a mark."""
    height, width = image.shape[:2]
    colour = _colour(rng, image)
    h, w = cover.shape
    step_x, step_y = w + int(rng.integers(w // 2 + 1, w + 2)), h * int(rng.integers(3, 6))
    offset = int(rng.integers(0, step_x))
    marks = []
    for row, y in enumerate(range(int(rng.integers(0, step_y)), height - h, step_y)):
        for x in range((offset + row * step_x // 2) % step_x - step_x, width - w, step_x):
            if x < 0:
                continue
            box = _paste(image, colour, cover, x, y, alpha)
            if box is not None:
                marks.append(Mark("text", box))
    return marks


def label_lines(marks: Sequence[Mark], width: int, height: int) -> str:
    """The YOLO detection label file of an image's marks."""
    from mosaicflow.formats.yolo import det_line, label_text

    lines = []
    for mark in marks:
        x0, y0, x1, y1 = mark.box
        corners = np.array([[x0, y0], [x1, y1]], np.float64)
        lines.append(det_line(CLASSES.index(mark.label), corners, width, height))
    return label_text(lines)


def data_yaml(root: Path) -> str:
    """The set's ``data.yaml`` (absolute path, both splits, the class names)."""
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(CLASSES))
    return (
        f"path: {Path(root).resolve()}\ntrain: train/images\nval: val/images\n"
        f"nc: {len(CLASSES)}\nnames:\n{names}"
    )


def split_videos(video_ids: Sequence[str], val_fraction: float, seed: int) -> dict[str, str]:
    """video -> ``train`` or ``val``: a seeded share of the videos (at least one of each split
    when there are two or more videos and the fraction is above 0)."""
    from mosaicflow.config import stable_hash

    ordered = sorted(video_ids, key=lambda v: stable_hash([seed, "watermark-split", v]))
    n_val = round(val_fraction * len(ordered))
    if len(ordered) >= 2 and val_fraction > 0:
        n_val = min(max(n_val, 1), len(ordered) - 1)
    return {v: ("val" if i < n_val else "train") for i, v in enumerate(ordered)}


def stats_of(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The set's record: images and marks per split and class."""
    return {"classes": list(CLASSES), **{split: dict(c) for split, c in sorted(counts.items())}}


@dataclass(frozen=True)
class SourceVideo:
    """A video the set is drawn from: its id, file, kept-frames index and sheet role."""

    video_id: str
    video: Path
    frames_index: Path
    role: str = "unlabelled"


def _frames_of(index: Path, count: int) -> list[int]:
    """``count`` kept frames evenly spread over a frames index (all when there are fewer)."""
    import pandas as pd

    table = pd.read_parquet(index)
    kept = table.loc[table["kept"].astype(bool), "frame"].astype(int).tolist()
    if len(kept) <= count:
        return kept
    picks = np.linspace(0, len(kept) - 1, count).round().astype(int)
    return [kept[i] for i in sorted(set(picks.tolist()))]


def build_watermark_set(
    videos: Sequence[SourceVideo], out_dir: Path, cfg: WatermarkSetConfig, seed: int
) -> dict[str, Any]:
    """Rule ``build_watermark_dataset``: write the YOLO detection set (``train``/``val``
    images and labels, ``data.yaml``, ``watermark_set.json``) into ``out_dir``, atomically.

    Videos with the role ``val`` make the validation split; without any, a seeded
    ``val_fraction`` of the videos does (with one video, its last frames).

    Raises:
        ValueError: no video, or no kept frame in any of them.
        FileNotFoundError: a configured font file that does not exist.
    """
    from mosaicflow.config import stable_hash
    from mosaicflow.io import atomic_dir, write_json, write_text
    from mosaicflow.video.decode import iter_frames

    if not videos:
        raise ValueError("build_watermark_dataset: no source video to draw frames from")
    fonts = font_files(cfg.fonts)
    roles = {v.video_id: v.role for v in videos}
    if len(videos) == 1:  # one video: its last frames are the validation split
        split_of = {videos[0].video_id: "train"}
    elif "val" in roles.values():
        split_of = {v: ("val" if r == "val" else "train") for v, r in roles.items()}
    else:
        split_of = split_videos(list(roles), cfg.val_fraction, seed)
    counts: dict[str, dict[str, int]] = {}
    with atomic_dir(out_dir) as tmp:
        for split in ("train", "val"):
            (tmp / split / "images").mkdir(parents=True)
            (tmp / split / "labels").mkdir(parents=True)
            counts[split] = {"images": 0, "text": 0, "logo": 0}
        for source in videos:
            frames = _frames_of(source.frames_index, cfg.images_per_video)
            n_val = 0
            if len(videos) == 1 and cfg.val_fraction > 0 and len(frames) >= 2:
                n_val = min(max(1, round(cfg.val_fraction * len(frames))), len(frames) - 1)
            for i, (number, rgb) in enumerate(iter_frames(source.video, frames, threads=1)):
                split = "val" if i >= len(frames) - n_val else split_of[source.video_id]
                stem = f"{source.video_id}-{number:06d}"
                rng = np.random.default_rng(int(stable_hash([seed, "watermark-set", stem]), 16))
                image, marks = add_marks(shrink(rgb, cfg.imgsz), cfg, fonts, rng)
                bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
                ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
                if not ok:
                    raise ValueError(f"{source.video}: frame {number}: JPEG encoding failed")
                (tmp / split / "images" / f"{stem}.jpg").write_bytes(data.tobytes())
                height, width = image.shape[:2]
                labels = tmp / split / "labels" / f"{stem}.txt"
                labels.write_text(label_lines(marks, width, height), encoding="utf-8")
                counts[split]["images"] += 1
                for mark in marks:
                    counts[split][mark.label] += 1
        for split, key in (("train", "the training videos"), ("val", "the validation split")):
            if not counts[split]["images"]:
                named = sorted(v for v, s in split_of.items() if s == split)
                raise ValueError(
                    f"build_watermark_dataset: no kept frame in {key} ({named}); the watermark "
                    "detector needs both splits (config key 'watermark_set.val_fraction', or a "
                    "video with the role val)"
                )
        write_text(tmp / "data.yaml", data_yaml(out_dir))
        stats = {**stats_of(counts), "fonts": {k: [p.name for p in v] for k, v in fonts.items()}}
        write_json(tmp / "watermark_set.json", stats)
    return stats
