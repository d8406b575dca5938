"""The censor filter: already pixelated regions found by blockiness or by a detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from mosaicflow.config import ConfigError, build
from mosaicflow.datasets.censor import CensorCheck, CensorConfig, region_blockiness
from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.mosaic.degrade import pixelate_regions

from .conftest import CLIP_CFG, Source, full_config, make_cfg, mosaic_cfg

FACE = (180, 60, 330, 220)  # the astronaut's face, x0 y0 x1 y1


def censor_cfg(**over) -> CensorConfig:
    return build(CensorConfig, full_config(censor=over)["censor"])


def jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def censored_photo(block: int) -> np.ndarray:
    photo = skimage.data.astronaut()
    mask = np.zeros(photo.shape[:2], bool)
    mask[FACE[1] : FACE[3], FACE[0] : FACE[2]] = True
    return jpeg(pixelate_regions(photo[None], mask[None], block)[0])


@pytest.mark.parametrize("block", [6, 9, 12, 16])
def test_a_pixelated_region_is_blocky_and_a_natural_one_is_not(block):
    assert region_blockiness(censored_photo(block), FACE) > 0.5
    assert region_blockiness(jpeg(skimage.data.astronaut(), 30), FACE) < 0.2
    assert region_blockiness(skimage.data.astronaut(), (0, 0, 3, 50)) is None  # too narrow


def test_frame_reason_names_the_blockiness_and_the_limit():
    check = CensorCheck(censor_cfg(max_blockiness=0.4))
    reason = check.frame_reason(censored_photo(8), [(0, 0, 60, 60), FACE])
    assert reason.startswith("censored: blockiness ") and reason.endswith("> 0.4")
    assert check.frame_reason(skimage.data.astronaut(), [FACE]) == ""
    assert check.frame_reason(censored_photo(8), []) == ""  # the analyser sees regions only


def test_clip_reason_of_the_analyser_is_the_median_blockiness():
    check = CensorCheck(censor_cfg(max_blockiness=0.4))
    assert check.clip_reason(0.41).startswith("censored: blockiness 0.410")
    assert check.clip_reason(0.4) == "" and check.clip_reason(None) == ""


def test_clip_reason_of_a_detector_needs_a_mosaic_over_the_crop_on_half_the_frames():
    check = CensorCheck(censor_cfg(min_overlap=0.5), weights="unused.pt")
    box = (0, 0, 100, 100)
    over, beside, none = (
        np.array([[10, 10, 50, 50]]),
        np.array([[90, 90, 150, 150]]),
        np.zeros((0, 4)),
    )
    assert check.clip_reason(None, [over, over, none], [box] * 3).startswith(
        "censored: detector on 2 of 3"
    )
    assert check.clip_reason(None, [over, beside, none], [box] * 3) == ""  # 1 of 3
    assert check.clip_reason(None, [beside, beside], [box] * 2) == ""  # 0.11 of it inside
    around = np.array([[-50, -50, 200, 200]])  # a mosaic over the whole region
    assert check.clip_reason(None, [around, around], [box] * 2).startswith("censored: detector")
    assert check.clip_reason(None, [], []) == ""
    with pytest.raises(ValueError, match="region boxes"):
        check.clip_reason(None, [over], [box, box])


def test_the_detector_looks_at_the_whole_frame(monkeypatch):
    check = CensorCheck(censor_cfg(), weights="unused.pt")
    found = (np.array([0.87]), np.array([[400.0, 400.0, 450.0, 450.0]]))
    monkeypatch.setattr(check, "detect", lambda rgb: found)
    # a mosaic outside every region still drops the frame
    assert check.frame_reason(skimage.data.astronaut(), [FACE]) == "censored: detector score 0.870"
    monkeypatch.setattr(check, "detect", lambda rgb: (np.zeros(0), np.zeros((0, 4))))
    assert check.frame_reason(skimage.data.astronaut(), []) == ""


def test_a_missing_detector_file_names_the_key(tmp_path):
    check = CensorCheck(censor_cfg(), weights=tmp_path / "gone.pt")
    with pytest.raises(ValueError, match=r"gone\.pt.*censor\.detector"):
        check.detect(skimage.data.astronaut())


def test_config_ranges_are_checked():
    with pytest.raises(ConfigError, match=r"censor\.min_score"):
        CensorConfig(True, 0.4, None, 1.5, 0.3, None)


def test_censored_clips_are_filtered_with_their_reason(source: Source, tmp_path: Path):
    def clips(out: Path, **over):
        return build_video_clips(
            source.video, source.index, source.regions, out, make_cfg(**CLIP_CFG),
            mosaic_cfg=mosaic_cfg(), video_id="vid-0123abcd", seed=3, code="abc",
            censor=CensorCheck(censor_cfg(**over)),
        )  # fmt: skip

    loose = clips(tmp_path / "loose", max_blockiness=1.0)
    assert loose and all(r["status"] == "kept" for r in loose)
    strict = clips(tmp_path / "strict", max_blockiness=0.0)
    assert all(r["status"] == "filtered" for r in strict)
    assert all(r["reason"].startswith("censored: blockiness") for r in strict)
    assert not list((tmp_path / "strict" / "clips").glob("*"))


def test_a_real_checkpoint_is_loaded_restricted_and_run_at_its_size(tmp_path, ultralytics_offline):
    from ultralytics import YOLO

    weights = tmp_path / "mosaic.pt"
    torch.manual_seed(0)
    YOLO("yolov8n-seg.yaml", task="segment").save(weights)
    check = CensorCheck(censor_cfg(min_score=0.0), weights, device="cpu", config_dir=tmp_path)
    scores, boxes = check.detect(skimage.data.astronaut())
    assert check.uses_detector and check._imgsz == 640  # not trained: ultralytics' default
    assert scores.shape == (len(boxes),) and boxes.shape[1:] == (4,)
    assert (scores >= 0).all() and ((boxes >= 0) & (boxes <= 512)).all()
    none = CensorCheck(censor_cfg(min_score=1.0), weights, device="cpu", config_dir=tmp_path)
    assert none.frame_reason(skimage.data.astronaut(), []) == ""
