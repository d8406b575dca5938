"""The frame signature: a perceptual hash of the luma that survives resizing and re-encoding."""

from __future__ import annotations

import cv2
import numpy as np

from mosaicflow.video.signature import luma_signature


def picture(seed: int, h: int = 180, w: int = 320) -> np.ndarray:
    small = np.random.default_rng(seed).integers(0, 256, (h // 10, w // 10), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def distance(a: int, b: int) -> int:
    return int(np.bitwise_count(np.array([a ^ b], dtype=np.int64).view(np.uint64))[0])


def test_a_resized_recompressed_frame_keeps_its_hash_and_another_does_not():
    luma = picture(0)
    big = cv2.resize(luma, (1280, 720), interpolation=cv2.INTER_LINEAR)
    _, jpeg = cv2.imencode(".jpg", cv2.resize(luma, (240, 135)), [cv2.IMWRITE_JPEG_QUALITY, 30])
    again = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
    h, std = luma_signature(luma)
    assert -(2**63) <= h < 2**63 and std > 20
    assert distance(h, luma_signature(big)[0]) <= 4
    assert distance(h, luma_signature(again)[0]) <= 8
    assert distance(h, luma_signature(picture(1))[0]) > 16
    assert luma_signature(luma) == (h, std)  # deterministic


def test_a_flat_frame_has_no_spread():
    assert luma_signature(np.full((720, 1280), 16, np.uint8))[1] == 0.0
