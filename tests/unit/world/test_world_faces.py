"""Faces of the demo world (``world.faces``): drawn only in scenes with a target, under the
targets, with their face boxes in the truth; the rest of the world is drawn the same."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mosaicflow.formats.truth import load_truth_json, read_truth
from mosaicflow.video.decode import iter_frames
from mosaicflow.world import video_specs
from mosaicflow.world.assets import FACE_BOX, head, load_face_photo
from mosaicflow.world.config import Faces

from .conftest import render, small_config


def test_the_head_keeps_the_face_box_of_the_photo():
    texture, alpha, face = head(80)
    assert texture.shape[:2] == alpha.shape and texture.shape[1] == 80
    assert face[2] - face[0] == pytest.approx(80 / 1.6, abs=1)  # the face is 1/1.6 of the head
    assert 0 <= face[0] < face[2] <= 80 and 0 <= face[1] < face[3] <= alpha.shape[0]
    assert alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] == 1.0 and alpha[0, 0] == 0.0
    # the texture is the photo's head: its face box, scaled, is the photo's face box
    x0, y0, x1, y1 = FACE_BOX
    scale = 80 / ((x1 - x0) * 1.6)
    photo = load_face_photo()[y0:y1, x0:x1]
    inside = texture[round(face[1]) : round(face[3]), round(face[0]) : round(face[2])]
    expected = cv2.resize(photo, inside.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(inside.astype(int) - expected.astype(int)).mean() < 12
    assert scale == pytest.approx(inside.shape[1] / (x1 - x0), rel=0.05)


def test_faces_are_off_by_default_and_checked():
    assert Faces().for_role("train") is None
    assert Faces(p=0.5, roles=("test",)).for_role("train") is None
    assert Faces(p=0.5).for_role("val") == {"p": 0.5, "width": [0.25, 0.31]}
    with pytest.raises(ValueError, match=r"world\.faces\.width"):
        Faces(p=0.5, width=(0.4, 0.3))
    with pytest.raises(ValueError, match=r"world\.faces\.p"):
        Faces(p=1.5)
    spec = video_specs(small_config(), seed=7)[0]
    assert "faces" not in spec.to_dict()  # a world without faces keeps its parameters


def test_faces_lie_under_the_targets_and_the_rest_is_drawn_the_same(tmp_path):
    plain = video_specs(small_config(width=320, height=192), seed=3)[0]
    with_faces = video_specs(small_config(width=320, height=192, faces=Faces(p=1.0)), seed=3)[0]
    assert with_faces.seed == plain.seed and "faces" in with_faces.to_dict()
    a = render(plain, tmp_path / "plain")
    b = render(with_faces, tmp_path / "faces")
    truth_a, truth_b = load_truth_json(a[2]), load_truth_json(b[2])
    shown = [s["faces"] for s in truth_b["scenes"]]
    assert shown == [1 if s["targets"] else 0 for s in truth_b["scenes"]] and any(shown)
    frames_a, frames_b = dict(iter_frames(a[0])), dict(iter_frames(b[0]))
    with_face = 0
    for (i, ids_a), (_, ids_b) in zip(read_truth(a[1]), read_truth(b[1]), strict=True):
        entry_a, entry_b = truth_a["per_frame"][i], truth_b["per_frame"][i]
        assert "faces" not in entry_a
        assert np.array_equal(ids_a, ids_b)  # the targets are drawn over the faces
        assert entry_a["instances"] == entry_b["instances"]
        if not entry_b["instances"]:  # a frame without a target shows no face
            assert entry_b["faces"] == []
            # the same drawing (the codec's predictions from earlier frames differ a little)
            assert np.abs(frames_a[i].astype(int) - frames_b[i].astype(int)).mean() < 1.5
        for x0, y0, x1, y1 in entry_b["faces"]:
            with_face += 1
            assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 192
            assert x1 - x0 >= 0.25 * 320 / 1.6 - 2  # the face of a head a quarter frame wide
            inside = (slice(y0, y1), slice(x0, x1))
            changed = np.abs(frames_a[i][inside].astype(int) - frames_b[i][inside].astype(int))
            assert changed[ids_b[inside] == 0].mean() > 10  # the face is drawn there
    assert with_face > 0
