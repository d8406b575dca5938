"""A user's first labelled set, built from real photographs that installed packages ship.

Faces stand in for the sensitive regions. Each "video" pans and zooms slowly over real
photographs (scikit-image's, matplotlib's and ultralytics' sample images), one scene per
photograph, and is written with x264 like any user video (4:4:4 where a side is odd, as 4:2:0
cannot code one). The faces' boxes in the photographs
are known (nudenet finds the three large ones; the four small faces of two street photographs
are labelled by hand below), so every frame's true faces follow from the camera path.

- ``train-faces`` (175x143, the small, odd-sized frames of a first labelling round): three
  portraits; 12 of its frames are labelled (labelme polygons: the ellipse in each face box).
- ``heldout-zidane``, ``heldout-bus`` (480x360, other sources, larger frames): two photographs
  of people; 6 labelled frames of each are the validation set, and every frame is scored
  against its true faces.
- ``no-faces-*`` (319x239 for training, 320x240 held out): photographs without a face (a cup,
  a rocket, a motorbike in a garage, a deep-field sky, a clock, a printed page), for the
  false-positive ceiling. (No cat, no coins: a cat's face and the heads on coins are faces to a
  face model.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

LABEL = "face"
FPS = 12


def _package_file(module: str, *parts: str) -> Path:
    import importlib

    return Path(importlib.import_module(module).__file__).parent.joinpath(*parts)


def skimage_photo(name: str) -> Path:
    return _package_file("skimage", "data", name)


def matplotlib_photo(name: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / name


def ultralytics_photo(name: str) -> Path:
    return _package_file("ultralytics", "assets", name)


@dataclass(frozen=True)
class Photo:
    """A photograph and its faces as ``(x0, y0, x1, y1)`` boxes in its pixels."""

    path: Path
    faces: tuple[tuple[int, int, int, int], ...]


def photos() -> dict[str, Photo]:
    """The photographs, by name. Faces of the portraits: nudenet's 320n detector (FACE_*
    boxes, scores 0.58-0.72); of the street photographs: drawn by hand, forehead to chin."""
    return {
        "astronaut": Photo(skimage_photo("astronaut.png"), ((173, 82, 275, 180),)),
        "grace_hopper": Photo(matplotlib_photo("grace_hopper.jpg"), ((168, 138, 356, 345),)),
        "camera": Photo(skimage_photo("camera.png"), ((182, 128, 266, 197),)),
        "zidane": Photo(
            ultralytics_photo("zidane.jpg"), ((490, 250, 665, 445), (900, 95, 1070, 300))
        ),
        "bus": Photo(ultralytics_photo("bus.jpg"), ((105, 402, 158, 465), (262, 408, 308, 472))),
        "coffee": Photo(skimage_photo("coffee.png"), ()),
        "rocket": Photo(skimage_photo("rocket.jpg"), ()),
        "motorcycle": Photo(skimage_photo("motorcycle_left.png"), ()),
        "hubble": Photo(skimage_photo("hubble_deep_field.jpg"), ()),
        "clock": Photo(skimage_photo("clock_motion.png"), ()),
        "page": Photo(skimage_photo("page.png"), ()),
    }


@dataclass(frozen=True)
class VideoPlan:
    """A video: its scenes (photograph names), frame size and frames per scene."""

    name: str
    scenes: tuple[str, ...]
    size: tuple[int, int]
    frames_per_scene: int
    role: str


PLANS = (
    VideoPlan("train-faces", ("astronaut", "grace_hopper", "camera"), (175, 143), 20, "train"),
    VideoPlan("heldout-zidane", ("zidane",), (480, 360), 30, "val"),
    VideoPlan("heldout-bus", ("bus",), (480, 360), 30, "test"),
    VideoPlan("no-faces-a", ("coffee", "rocket", "motorcycle"), (319, 239), 16, "train"),
    VideoPlan("no-faces-b", ("hubble", "clock", "page"), (320, 240), 16, "test"),
)
#: Labelled frames of each scene: of the training video (12 in all) and of the held-out one.
LABELLED_PER_SCENE = {"train-faces": 4, "heldout-zidane": 6, "heldout-bus": 6}


def camera_window(
    photo_size: tuple[int, int], frame_size: tuple[int, int], t: float, scene: int
) -> tuple[float, float, float]:
    """The photograph's window shown at time ``t`` in [0, 1] of a scene: ``(x0, y0, scale)``,
    scale = frame pixels per photograph pixel. The window covers 85 % to 75 % of the
    photograph (a slow zoom in) and drifts from one side to the other."""
    pw, ph = photo_size
    fw, fh = frame_size
    cover = 0.85 - 0.10 * t
    scale = max(fw / pw, fh / ph) / cover
    ww, wh = fw / scale, fh / scale
    direction = 1 if scene % 2 == 0 else -1
    frac = 0.5 + direction * (t - 0.5) * 0.8
    return frac * (pw - ww), (0.5 + 0.3 * (t - 0.5)) * (ph - wh), scale


def render(photo: np.ndarray, window: tuple[float, float, float], size: tuple[int, int]):
    """The frame of ``photo`` (BGR) seen through ``window``."""
    x0, y0, scale = window
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
    return cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def face_in_frame(face, window, size) -> tuple[float, float, float, float] | None:
    """A face box mapped into the frame, clipped; None when less than 60 % of it shows."""
    x0, y0, scale = window
    box = np.array([(face[0] - x0) * scale, (face[1] - y0) * scale,
                    (face[2] - x0) * scale, (face[3] - y0) * scale])  # fmt: skip
    clipped = np.clip(box, 0, [size[0], size[1], size[0], size[1]])
    area = (box[2] - box[0]) * (box[3] - box[1])
    shown = max(0.0, clipped[2] - clipped[0]) * max(0.0, clipped[3] - clipped[1])
    return tuple(float(v) for v in clipped) if area > 0 and shown / area >= 0.6 else None


def ellipse(box, points: int = 24) -> np.ndarray:
    """The polygon of the ellipse inscribed in ``box``."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    angles = np.linspace(0, 2 * np.pi, points, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def face_mask(boxes, size: tuple[int, int]) -> np.ndarray:
    """The frame's true face pixels (the ellipses)."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    for box in boxes:
        cv2.fillPoly(mask, [np.round(ellipse(box)).astype(np.int32)], 1)
    return mask.astype(bool)


def _write_video(path: Path, frames: list[np.ndarray]) -> None:
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        odd = width % 2 or height % 2
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv444p" if odd else "yuv420p"
        stream.options = {"crf": "20", "threads": "1"}
        for image in frames:
            frame = av.VideoFrame.from_ndarray(image[:, :, ::-1].copy(), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _labelme(folder: Path, stem: str, image: np.ndarray, boxes) -> None:
    from mosaicflow.formats.labelme import labelme_document

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    (folder / f"{stem}.jpg").write_bytes(data.tobytes())
    doc = labelme_document(
        [(LABEL, ellipse(b)) for b in boxes], image.shape[1], image.shape[0], f"{stem}.jpg"
    )
    (folder / f"{stem}.json").write_text(json.dumps(doc))


def build(root: Path) -> dict[str, Path]:
    """Write the videos, the sheet, the labelme folders and the truth under ``root``.

    Returns:
        ``videos`` (the folder), ``sheet``, ``labelme_train``, ``labelme_val`` and ``truth``
        (JSON: per video, per frame, the true face boxes in frame pixels).
    """
    library = photos()
    videos, train, val = root / "videos", root / "labelme_train", root / "labelme_val"
    for folder in (videos, train, val):
        folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, list[list[list[float]]]] = {}
    for plan in PLANS:
        frames, faces = [], []
        for scene, name in enumerate(plan.scenes):
            photo = library[name]
            image = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
            size = (image.shape[1], image.shape[0])
            for k in range(plan.frames_per_scene):
                window = camera_window(size, plan.size, k / (plan.frames_per_scene - 1), scene)
                frames.append(render(image, window, plan.size))
                boxes = [face_in_frame(f, window, plan.size) for f in photo.faces]
                faces.append([list(b) for b in boxes if b is not None])
        _write_video(videos / f"{plan.name}.mp4", frames)
        truth[plan.name] = faces
        every = LABELLED_PER_SCENE.get(plan.name)
        if every:
            folder = train if plan.role == "train" else val
            step = plan.frames_per_scene // every
            for scene in range(len(plan.scenes)):
                for k in range(every):
                    index = scene * plan.frames_per_scene + k * step + step // 2
                    _labelme(folder, f"{plan.name}_{index:06d}", frames[index], faces[index])
    sheet = root / "videos.tsv"
    rows = ["path\trole"] + [f"videos/{p.name}.mp4\t{p.role}" for p in PLANS]
    sheet.write_text("\n".join(rows) + "\n")
    (root / "truth.json").write_text(json.dumps(truth))
    return {
        "videos": videos,
        "sheet": sheet,
        "labelme_train": train,
        "labelme_val": val,
        "truth": root / "truth.json",
    }
