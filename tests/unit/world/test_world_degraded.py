"""Degraded scenes of the demo world: which scenes are drawn, what each kind does to the
frames, and that the truth records it."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from mosaicflow.formats.truth import degraded_frames, load_truth_json, read_truth
from mosaicflow.video.decode import iter_frames
from mosaicflow.world import video_specs
from mosaicflow.world.config import DegradedScenes
from mosaicflow.world.degraded import draw_scene_degradations

from .conftest import render, small_config


def test_scenes_are_drawn_from_the_seed_within_the_ranges():
    params = DegradedScenes(p=1.0).for_role("train")
    drawn = draw_scene_degradations(params, seed=5, scenes=40)
    assert drawn == draw_scene_degradations(params, seed=5, scenes=40)
    assert drawn != draw_scene_degradations(params, seed=6, scenes=40)
    assert {d["kind"] for d in drawn} == {"codec", "blur", "upscale", "mosaic"}
    for d in drawn:
        if d["kind"] == "codec":
            assert 44 <= d["crf"] <= 51
        elif d["kind"] == "blur":
            assert 1.5 <= d["sigma"] <= 3.0
        elif d["kind"] == "upscale":
            assert 0.25 <= d["scale"] <= 0.45
        else:
            assert 6 <= d["block"] <= 12
    some = draw_scene_degradations(DegradedScenes(p=0.3).for_role("val"), seed=5, scenes=400)
    assert 0.2 < sum(d is not None for d in some) / 400 < 0.4
    assert draw_scene_degradations(None, seed=5, scenes=3) == [None, None, None]


def test_dealt_draws_degrade_only_scenes_with_targets_and_deal_every_kind():
    params = DegradedScenes(p=1.0, draw="dealt").for_role("test")
    drawn = draw_scene_degradations(params, seed=5, scenes=40, shows_targets=[True] * 40)
    kinds = [d["kind"] for d in drawn]
    assert sorted(kinds.count(k) for k in set(kinds)) == [10, 10, 10, 10]
    assert len(set(kinds[:4])) == 4  # each kind once in every four degraded scenes
    three = DegradedScenes(p=1.0, kinds=("codec", "blur", "upscale"), draw="dealt")
    shows = [True, False, True, True, False, True]
    drawn = draw_scene_degradations(three.for_role("val"), seed=9, scenes=6, shows_targets=shows)
    assert [d is not None for d in drawn] == shows
    assert {d["kind"] for d in drawn if d} == {"codec", "blur", "upscale"}
    with pytest.raises(ValueError, match="1 target flags for 6 scenes"):
        draw_scene_degradations(three.for_role("val"), seed=9, scenes=6, shows_targets=[True])
    # the default draw keeps its parameters, so videos drawn independently do not rerun
    assert "draw" not in DegradedScenes(p=0.4).for_role("val")
    with pytest.raises(ValueError, match=r"world\.degraded\.draw: 'random' is not one of"):
        DegradedScenes(p=0.4, draw="random")


def test_only_listed_roles_get_degraded_scenes_and_clean_specs_keep_their_parameters():
    plain = {s.name: s for s in video_specs(small_config(), seed=3)}
    cfg = small_config(degraded=DegradedScenes(p=0.5, roles=("test",)))
    for spec in video_specs(cfg, seed=3):
        if spec.role == "test":
            assert spec.degraded is not None and spec.degraded["p"] == 0.5
        else:
            assert spec.degraded is None
            assert spec.to_dict() == plain[spec.name].to_dict()  # no rerun of clean videos
    assert DegradedScenes(p=0.0).for_role("train") is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kinds": ("codec", "sharpen")}, "kinds"),
        ({"p": 1.5}, r"world\.degraded\.p"),
        ({"blur_sigma": (3.0, 1.0)}, "blur_sigma"),
    ],
)
def test_bad_degraded_config_is_refused_naming_the_key(changes, message):
    with pytest.raises(ValueError, match=message):
        DegradedScenes(**changes)


def _frames(path):
    return np.stack([a for _, a in iter_frames(path)])


def _laplacian_energy(frames: np.ndarray) -> float:
    return float(np.mean([cv2.Laplacian(f.mean(axis=2), cv2.CV_64F).var() for f in frames]))


@pytest.mark.parametrize("kind", ["blur", "upscale", "codec", "mosaic"])
def test_a_degraded_scene_is_recorded_and_changes_its_frames_as_its_kind_says(tmp_path, kind):
    clean_spec = video_specs(small_config(), seed=11)[0]
    spec = dataclasses.replace(
        clean_spec, degraded=DegradedScenes(p=1.0, kinds=(kind,)).for_role("train")
    )
    clean_mp4, _, _ = render(clean_spec, tmp_path / "clean")
    mp4, mkv, json_path = render(spec, tmp_path / kind)
    truth = load_truth_json(json_path)
    assert all(s["degraded"]["kind"] == kind for s in truth["scenes"])
    assert degraded_frames(truth["scenes"], truth["frames"]) == [kind] * truth["frames"]
    clean, degraded = _frames(clean_mp4), _frames(mp4)
    assert clean.shape == degraded.shape
    # the truth masks are the clean video's: the degradation changes pixels, not the regions
    masks = np.stack([m for _, m in read_truth(mkv)]) > 0
    if kind == "mosaic":
        inside = np.abs(clean.astype(int) - degraded.astype(int))[masks].mean()
        outside = np.abs(clean.astype(int) - degraded.astype(int))[~masks].mean()
        assert inside > 3 * outside
    else:
        assert _laplacian_energy(degraded) < 0.7 * _laplacian_energy(clean)
