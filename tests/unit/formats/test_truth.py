"""The truth format: mask video and truth JSON written and read back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mosaicflow.formats.truth import (
    TRUTH_VERSION,
    load_truth_json,
    read_truth,
    truth_mask_writer,
    write_truth_json,
)


def _masks(count: int = 6, height: int = 24, width: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 4, (height, width), dtype=np.uint8) for _ in range(count)]


def _truth(frames: int) -> dict:
    return {
        "version": TRUTH_VERSION,
        "fps": 12,
        "width": 40,
        "height": 24,
        "frames": frames,
        "classes": ["text", "logo"],
        "per_frame": [{"frame": f, "watermarks": []} for f in range(frames)],
    }


def test_masks_round_trip_losslessly_and_deterministically(tmp_path):
    masks = _masks()
    for name in ("a.mkv", "b.mkv"):
        with truth_mask_writer(tmp_path / name, 12, 40, 24) as write:
            for mask in masks:
                write(mask)
    assert (tmp_path / "a.mkv").read_bytes() == (tmp_path / "b.mkv").read_bytes()
    got = list(read_truth(tmp_path / "a.mkv"))
    assert [f for f, _ in got] == list(range(len(masks)))
    for (_, back), mask in zip(got, masks, strict=True):
        assert back.dtype == np.uint8 and np.array_equal(back, mask)
    subset = list(read_truth(tmp_path / "a.mkv", [4, 1]))
    assert [f for f, _ in subset] == [1, 4] and np.array_equal(subset[1][1], masks[4])
    assert list(read_truth(tmp_path / "a.mkv", [])) == []


def test_writer_rejects_bad_masks_and_leaves_no_file(tmp_path):
    out = tmp_path / "bad.mkv"
    with (
        pytest.raises(ValueError, match=r"bad\.mkv.*frame 1"),
        truth_mask_writer(out, 12, 40, 24) as write,
    ):
        write(np.zeros((24, 40), np.uint8))
        write(np.zeros((24, 41), np.uint8))
    with (
        pytest.raises(ValueError, match=r"bad\.mkv.*uint8"),
        truth_mask_writer(out, 12, 40, 24) as write,
    ):
        write(np.zeros((24, 40), np.int64))
    assert list(tmp_path.iterdir()) == []


def test_read_truth_names_the_file(tmp_path):
    with truth_mask_writer(tmp_path / "short.mkv", 12, 40, 24) as write:
        for mask in _masks(3):
            write(mask)
    with pytest.raises(ValueError, match=r"short\.mkv.*frame 5"):
        list(read_truth(tmp_path / "short.mkv", [1, 5]))
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(b"not a video")
    with pytest.raises(ValueError, match=r"broken\.mkv"):
        list(read_truth(broken))


def test_truth_json_round_trip_and_checks(tmp_path):
    truth = _truth(3)
    write_truth_json(tmp_path / "t.json", truth)
    assert load_truth_json(tmp_path / "t.json") == truth
    for name, bad, pattern in [
        ("old.json", {**truth, "version": 0}, "version"),
        ("short.json", {**truth, "per_frame": truth["per_frame"][:2]}, "2 frame entries"),
        ("nofps.json", {k: v for k, v in truth.items() if k != "fps"}, "lacks keys"),
    ]:
        with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')}.*{pattern}"):
            write_truth_json(tmp_path / name, bad)
        assert not (tmp_path / name).exists()
        (tmp_path / name).write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')}.*{pattern}"):
            load_truth_json(tmp_path / name)
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match=r"list\.json.*version 'list'"):
        load_truth_json(tmp_path / "list.json")
