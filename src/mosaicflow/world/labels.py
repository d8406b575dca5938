"""Label sets made from rendered world videos: labelme, watermark YOLO set, contact sheet.

Every set is made from the *compressed* video (decoded as a labeller would see it, with
:func:`mosaicflow.video.decode.iter_frames`) and the truth written by
:func:`mosaicflow.world.render.render_video` (read with :mod:`mosaicflow.formats.truth`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mosaicflow.formats.truth import load_truth_json, read_truth
from mosaicflow.io import atomic_dir, atomic_path, write_json
from mosaicflow.video.decode import iter_frames
from mosaicflow.world.config import LabelNoise, WorldConfig
from mosaicflow.world.label_noise import inject
from mosaicflow.world.render import draw_watermark, make_watermark
from mosaicflow.world.specs import WATERMARK_CLASSES, derive_seed

#: labelme format version written into the JSON files.
LABELME_VERSION = "5.5.0"
_JPEG_QUALITY = 95
_MIN_POLYGON_AREA = 4.0

Item = tuple[Path, Path, Path]  # (video mp4, truth mkv, truth json)


def decode_frames(
    video: Path, frames: Sequence[int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame number, BGR uint8 image)`` of a video (all frames or the given ones).

    Raises:
        ValueError: naming the file when it cannot be decoded or lacks a requested frame.
    """
    return iter_frames(video, frames, fmt="bgr24", threads=1)


def mask_polygons(mask: np.ndarray) -> list[tuple[int, list[list[float]]]]:
    """Outer polygons of every instance of an instance-id mask: ``[(instance id, points)]``.

    Holes are not represented (targets have none); parts smaller than 4 px are dropped.
    """
    shapes = []
    for inst in (int(v) for v in np.unique(mask) if v):
        binary = (mask == inst).astype(np.uint8)
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if len(contour) < 3 or cv2.contourArea(contour) < _MIN_POLYGON_AREA:
                continue
            shapes.append((inst, contour[:, 0, :].astype(float).tolist()))
    return shapes


def _phase(seed: int, name: str, every: int, what: str) -> int:
    return derive_seed(seed, what, name) % every


def _encode_jpeg(image: np.ndarray, path: Path) -> None:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        raise ValueError(f"{path}: JPEG encoding failed")
    path.write_bytes(data.tobytes())


def write_labelme_set(
    items: Sequence[Item],
    out_dir: Path,
    cfg: WorldConfig,
    seed: int,
    *,
    noise: LabelNoise | None = None,
    noise_record: Path | None = None,
) -> int:
    """Write every ``cfg.labelme_every``-th frame of the given videos as labelme files.

    Each sampled frame becomes ``<video name>_<frame:06d>.jpg`` (decoded from the compressed
    video) and a labelme JSON beside it with one polygon per connected part of every target
    (label ``cfg.label``, ``group_id`` = instance id). Frames without targets get no shapes and
    ``flags: {<cfg.empty_label>: true}``. The phase of the sampling is drawn per video from
    ``seed``. The folder is built aside and swapped in atomically.

    With ``noise``, frames get label errors (:func:`mosaicflow.world.label_noise.inject`, using
    the truth's distractor boxes); ``noise_record`` receives their list as JSON (``{"errors":
    [...], "frames": n}``), empty without noise.

    Args:
        items: (video mp4, truth mkv, truth json) of train or val videos.
        out_dir: the labelme folder to (re)create.
        cfg: the world config (label, empty_label, labelme_every).
        seed: the global seed.
        noise: label errors to inject (None: none).
        noise_record: where the errors' record goes (None: not written).

    Returns:
        The number of labelme files written.
    """
    count = 0
    errors: list[dict[str, Any]] = []
    with atomic_dir(out_dir) as tmp:
        for video, truth_mkv, truth_json in items:
            truth = load_truth_json(truth_json)
            name = truth["name"]
            phase = _phase(seed, name, cfg.labelme_every, "labelme")
            frames = list(range(phase, truth["frames"], cfg.labelme_every))
            images = decode_frames(Path(video), frames)
            masks = read_truth(Path(truth_mkv), frames)
            for (fi, image), (fm, mask) in zip(images, masks, strict=True):
                if fi != fm or image.shape[:2] != mask.shape:
                    raise ValueError(f"{video}: frame {fi} does not match truth {truth_mkv}")
                stem = f"{name}_{fi:06d}"
                _encode_jpeg(image, tmp / f"{stem}.jpg")
                shapes = [
                    {
                        "label": cfg.label,
                        "points": points,
                        "group_id": inst,
                        "description": "",
                        "shape_type": "polygon",
                        "flags": {},
                        "mask": None,
                    }
                    for inst, points in mask_polygons(mask)
                ]
                doc = {
                    "version": LABELME_VERSION,
                    "flags": {cfg.empty_label: not shapes},
                    "shapes": shapes,
                    "imagePath": f"{stem}.jpg",
                    "imageData": None,
                    "imageHeight": int(image.shape[0]),
                    "imageWidth": int(image.shape[1]),
                }
                if noise is not None:
                    boxes = truth["per_frame"][fi].get("distractors", [])
                    error = inject(doc, boxes, noise, seed, cfg.label, cfg.empty_label)
                    if error is not None:
                        errors.append({"video": name, "frame": fi, **error})
                (tmp / f"{stem}.json").write_text(
                    json.dumps(doc, indent=2) + "\n", encoding="utf-8"
                )
                count += 1
            if count == 0:
                raise ValueError(f"{video}: no frame sampled for labelme")
    if noise_record is not None:
        write_json(noise_record, {"frames": count, "errors": errors})
    return count


def _yolo_lines(boxes: list[dict[str, Any]], width: int, height: int) -> str:
    lines = []
    for box in boxes:
        x0, y0, x1, y1 = box["box"]
        cls = WATERMARK_CLASSES.index(box["class"])
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        w, h = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return "".join(line + "\n" for line in lines)


def overlay_watermarks(
    image: np.ndarray, rng: np.random.Generator, count: int
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Blend ``count`` random watermarks (as the world renderer draws them) over a BGR image.

    Returns:
        The new image and the truth boxes of the watermarks that are visible.
    """
    height, width = image.shape[:2]
    frame = image.astype(np.float32)
    boxes = []
    for _ in range(count):
        box = draw_watermark(frame, make_watermark(rng, width, height))
        if box is not None:
            boxes.append(box)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), boxes


def write_watermark_set(
    train_items: Sequence[Item],
    val_items: Sequence[Item],
    out_dir: Path,
    cfg: WorldConfig,
    seed: int,
) -> dict[str, Any]:
    """Write a YOLO detection data set of watermarks from world videos.

    Layout: ``out_dir/{train,val}/{images,labels}/<video>_<frame:06d>.{jpg,txt}`` and
    ``out_dir/data.yaml`` (absolute ``path``, ``train``/``val`` image folders, ``names`` from
    :data:`WATERMARK_CLASSES`). Every ``cfg.watermark_every``-th frame is sampled (per-video
    phase from ``seed``); frames without watermarks are kept as negatives (empty label file).
    With probability ``cfg.watermark_overlay_p`` an image also gets one or two freshly drawn
    watermarks (:func:`overlay_watermarks`), so the detector sees many distinct watermarks
    rather than the few that each video scene carries.

    Returns:
        Counts: images and boxes per split, and the class names.
    """
    out_dir = Path(out_dir)
    stats: dict[str, Any] = {"names": list(WATERMARK_CLASSES)}
    with atomic_dir(out_dir) as tmp:
        for split, items in (("train", train_items), ("val", val_items)):
            (tmp / split / "images").mkdir(parents=True)
            (tmp / split / "labels").mkdir(parents=True)
            n_images = n_boxes = 0
            for video, _truth_mkv, truth_json in items:
                truth = load_truth_json(truth_json)
                name = truth["name"]
                phase = _phase(seed, name, cfg.watermark_every, "watermark")
                frames = list(range(phase, truth["frames"], cfg.watermark_every))
                for index, image in decode_frames(Path(video), frames):
                    boxes = list(truth["per_frame"][index]["watermarks"])
                    stem = f"{name}_{index:06d}"
                    rng = np.random.default_rng(derive_seed(seed, "watermark-overlay", stem))
                    if rng.random() < cfg.watermark_overlay_p:
                        image, extra = overlay_watermarks(image, rng, 1 + int(rng.random() < 0.4))
                        boxes += extra
                    _encode_jpeg(image, tmp / split / "images" / f"{stem}.jpg")
                    text = _yolo_lines(boxes, truth["width"], truth["height"])
                    (tmp / split / "labels" / f"{stem}.txt").write_text(text, encoding="utf-8")
                    n_images += 1
                    n_boxes += len(boxes)
            stats[f"{split}_images"] = n_images
            stats[f"{split}_boxes"] = n_boxes
        names = "".join(f"  {i}: {n}\n" for i, n in enumerate(WATERMARK_CLASSES))
        (tmp / "data.yaml").write_text(
            f"path: {out_dir.resolve()}\ntrain: train/images\nval: val/images\n"
            f"nc: {len(WATERMARK_CLASSES)}\nnames:\n{names}",
            encoding="utf-8",
        )
    return stats


_PALETTE = np.array(
    [
        [0, 0, 0],
        [60, 60, 255],
        [60, 255, 60],
        [255, 120, 40],
        [0, 220, 255],
        [255, 0, 200],
        [200, 255, 0],
        [128, 0, 255],
        [0, 128, 255],
    ],
    np.uint8,
)


def contact_sheet(items: Sequence[Item], out_png: Path, seed: int, per_video: int = 4) -> Path:
    """Write a PNG grid of sample frames with their truth masks and watermark boxes.

    Each video gives one row of ``per_video`` frames (drawn from ``seed``, at least one with
    targets and, when the video has any, one with a watermark): the decoded frame with the
    target instances tinted and outlined, watermark boxes (red: text, yellow: logo).

    Returns:
        ``out_png``.
    """
    rng = np.random.default_rng(derive_seed(seed, "contact_sheet"))
    rows = []
    for video, truth_mkv, truth_json in items:
        truth = load_truth_json(truth_json)
        per_frame = truth["per_frame"]
        with_targets = [p["frame"] for p in per_frame if p["instances"]]
        with_wm = [p["frame"] for p in per_frame if p["watermarks"]]
        chosen: list[int] = []
        for pool in (with_targets, with_wm, [p["frame"] for p in per_frame if not p["instances"]]):
            if pool:
                chosen.append(int(pool[int(rng.integers(len(pool)))]))
        while len(chosen) < per_video:
            chosen.append(int(rng.integers(truth["frames"])))
        chosen = sorted(set(chosen))[:per_video]
        masks = dict(read_truth(Path(truth_mkv), chosen))
        tiles = []
        for index, image in decode_frames(Path(video), chosen):
            mask = masks[index]
            tile = image.copy()
            colours = _PALETTE[1 + (mask.astype(np.int64) - 1) % (len(_PALETTE) - 1)]
            sel = mask > 0
            tile[sel] = (0.55 * tile[sel] + 0.45 * colours[sel]).astype(np.uint8)
            contours, _ = cv2.findContours(
                sel.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE
            )
            cv2.drawContours(tile, contours, -1, (255, 255, 255), 1)
            for box in per_frame[index]["watermarks"]:
                x0, y0, x1, y1 = box["box"]
                colour = (0, 0, 255) if box["class"] == "text" else (0, 255, 255)
                cv2.rectangle(tile, (x0, y0), (x1 - 1, y1 - 1), colour, 1)
                cv2.putText(
                    tile,
                    box["class"],
                    (x0 + 2, max(10, y0 - 2)),
                    cv2.FONT_HERSHEY_PLAIN,
                    0.8,
                    colour,
                    1,
                )
            label = f"{truth['name']} #{index} s{per_frame[index]['scene']}"
            cv2.putText(
                tile,
                label,
                (3, tile.shape[0] - 5),
                cv2.FONT_HERSHEY_PLAIN,
                0.9,
                (255, 255, 255),
                1,
                cv2.LINE_AA,
            )
            tiles.append(
                cv2.copyMakeBorder(tile, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(40, 40, 40))
            )
        while len(tiles) < per_video and tiles:
            tiles.append(np.zeros_like(tiles[0]))
        if tiles:
            rows.append(np.concatenate(tiles, axis=1))
    if not rows:
        raise ValueError("contact_sheet: no videos given")
    width = max(r.shape[1] for r in rows)
    rows = [cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1], cv2.BORDER_CONSTANT) for r in rows]
    sheet = np.concatenate(rows, axis=0)
    ok, data = cv2.imencode(".png", sheet)
    if not ok:
        raise ValueError(f"{out_png}: PNG encoding failed")
    with atomic_path(out_png) as tmp:
        tmp.write_bytes(data.tobytes())
    return Path(out_png)
