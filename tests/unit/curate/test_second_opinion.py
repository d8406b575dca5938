"""The nudenet second opinion on a real photograph: scikit-image's astronaut."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd
import pytest
import skimage.data

from mosaicflow.config import build
from mosaicflow.curate.clip_jobs import score_video_clips
from mosaicflow.curate.config import NudeNetConfig
from mosaicflow.curate.second_opinion import NudeNetOpinion, nudenet_labels
from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.io import write_parquet
from mosaicflow.video.config import FramesConfig
from mosaicflow.video.frames import extract_frames
from mosaicflow.yolo.infer import encode_rle, rows_frame
from tests.unit.datasets.conftest import full_config, make_cfg, mosaic_cfg

FACES = ("FACE_FEMALE", "FACE_MALE")
#: The astronaut's face with a margin (512 x 512 photograph), xyxy, drawn by hand.
FACE = (165, 70, 285, 190)
#: A region on her suit and the flag, away from the face.
SUIT = (20, 330, 150, 460)
N, FPS, SHIFT = 12, 10, 2


def test_the_face_classes_find_one_box_on_the_face():
    boxes = NudeNetOpinion(FACES, 0.3).boxes(skimage.data.astronaut())
    assert boxes.shape == (1, 4)
    cx, cy = (boxes[0, :2] + boxes[0, 2:]) / 2
    assert FACE[0] < cx < FACE[2] and FACE[1] < cy < FACE[3]
    assert NudeNetOpinion(("FEMALE_BREAST_EXPOSED",), 0.3).boxes(skimage.data.astronaut()).size == 0


def test_unknown_classes_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="FACE_FEMALE"):
        NudeNetOpinion(("FACE",), 0.3)
    assert "FACE_FEMALE" in nudenet_labels()


def _astronaut_video(folder: Path) -> tuple[Path, Path, Path]:
    """A short pan over the photograph with two tracked regions: the face and the suit."""
    photo = skimage.data.astronaut()
    video = folder / "astronaut.mp4"
    frames = [np.ascontiguousarray(np.roll(photo, SHIFT * i, axis=1)) for i in range(N)]
    with av.open(str(video), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height = 512, 512
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "14", "preset": "ultrafast"}
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    index = folder / "index.parquet"
    extract_frames(build(FramesConfig, full_config()["frames"]), video, index, folder / "p.json")
    table = pd.read_parquet(index)
    table["kept"], table["drop_reason"], table["scene"] = True, "", np.int32(0)
    write_parquet(index, table)
    rows = []
    for i in range(N):
        for inst, (track, (x0, y0, x1, y1)) in enumerate(((1, FACE), (2, SUIT))):
            mask = np.zeros((512, 512), bool)
            mask[y0:y1, x0 + SHIFT * i : x1 + SHIFT * i] = True
            rows.append({"frame": i, "time": i / FPS, "instance": inst, "track_id": track,
                         "class_id": 0, "score": 0.8, "x0": float(x0 + SHIFT * i),
                         "y0": float(y0), "x1": float(x1 + SHIFT * i), "y1": float(y1),
                         "area": int(mask.sum()), "rle": encode_rle(mask)})  # fmt: skip
    regions = folder / "regions.parquet"
    write_parquet(regions, rows_frame(rows))
    return video, index, regions


def astronaut_clips(folder: Path, **options: Any) -> tuple[Path, Path, list[dict], Path]:
    """The pan's clips (one per tracked region): the video, its region table, the clip records
    and their manifest (``options`` go to ``build_video_clips``)."""
    video, index, regions = _astronaut_video(folder)
    cfg = make_cfg(min_seconds=0.5, max_seconds=2.0, out_size=64, max_clips_per_video=None)
    records = build_video_clips(
        video, index, regions, folder / "clips", cfg, mosaic_cfg=mosaic_cfg(),
        video_id="astronaut-0123abcd", seed=0, code="t", **options,
    )  # fmt: skip
    return video, regions, records, folder / "clips" / "videos" / "astronaut-0123abcd.json"


def test_the_clip_score_reads_the_face_on_a_clip_of_the_photo(tmp_path: Path):
    video, regions, records, manifest = astronaut_clips(tmp_path)
    assert sorted(r["track"] for r in records if r["status"] == "kept") == [1, 2]
    table = score_video_clips(
        manifest, regions, tmp_path / "signals.parquet", video=video,
        nudenet=NudeNetConfig(enabled=True, classes=FACES, min_score=0.3),
    )  # fmt: skip
    tracks = {r["clip"]: r["track"] for r in records}
    by_track = dict(zip(table["clip"].map(tracks), table["nudenet"], strict=True))
    assert by_track[1] >= 0.9 and by_track[2] == 0.0
