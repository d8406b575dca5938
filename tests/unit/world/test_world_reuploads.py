"""Re-uploads of the demo world: which videos are copied, and a copy's frames and truth are the
source's, cut, cropped and rescaled alike, with a watermark of its own."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from mosaicflow.config import ConfigError
from mosaicflow.formats.truth import load_truth_json, read_truth
from mosaicflow.video.decode import iter_frames
from mosaicflow.world import video_specs
from mosaicflow.world.config import Reuploads
from mosaicflow.world.reuploads import (
    REUPLOAD_ROLE,
    CopyGeometry,
    ReuploadSpec,
    render_reupload,
    reupload_specs,
)

from .conftest import small_config


def specs_for(**reuploads: object) -> list[ReuploadSpec]:
    cfg = small_config(reuploads=Reuploads(**reuploads))
    return reupload_specs(cfg, 7, video_specs(cfg, seed=7))


def test_listed_sources_come_first_and_drawn_ones_are_other_source_videos():
    specs = specs_for(sources=("world-test-00",), count=2)
    assert [s.name for s in specs] == [f"world-reupload-{k:02d}" for k in range(3)]
    assert specs[0].source == "world-test-00"
    sources = [s.source for s in specs]
    assert len(set(sources)) == 3
    assert set(sources) <= {"world-train-00", "world-train-01", "world-val-00", "world-test-00"}
    assert specs == specs_for(sources=("world-test-00",), count=2)  # drawn from the seed
    for s in specs:
        assert 2 <= s.shift <= 15 and 0.01 <= s.crop <= 0.05 and 0.5 <= s.scale <= 0.9
        assert 30 <= s.crf <= 37
    assert ReuploadSpec.from_dict(specs[1].to_dict()) == specs[1]
    assert specs_for() == []


@pytest.mark.parametrize(
    ("reuploads", "message"),
    [
        ({"sources": ("world-train-09",)}, "world.reuploads.sources"),
        ({"count": 5}, "world.reuploads.count"),
        ({"count": 1, "shift_frames": (47, 47)}, "world.reuploads.shift_frames"),
    ],
)
def test_impossible_reuploads_name_their_key(reuploads, message):
    with pytest.raises(ConfigError, match=message):
        specs_for(**reuploads)


def test_copy_geometry_maps_boxes_into_the_copy():
    geo = CopyGeometry.of(200, 100, crop=0.05, scale=0.5)
    assert (geo.x0, geo.y0, geo.x1, geo.y1, geo.width, geo.height) == (10, 5, 190, 95, 90, 44)
    assert geo.box([10, 5, 190, 95]) == [0, 0, 90, 44]
    assert geo.box([0, 0, 30, 25]) == [0, 0, 10, 10]  # clipped to the copy
    assert geo.box([0, 0, 8, 4]) is None  # cropped away


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    err = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(err, 1e-12)))


def test_a_copy_is_its_source_transformed_with_its_truth(small_world, tmp_path):
    spec = dataclasses.replace(
        specs_for(sources=("world-train-01",))[0], shift=5, crop=0.05, scale=0.6, crf=30
    )
    video, truth, truth_json = small_world["world-train-01"]
    outs = [tmp_path / f"copy.{ext}" for ext in ("mp4", "mkv", "json")]
    stats = render_reupload(spec, video, truth, truth_json, *outs)
    source, copy = load_truth_json(truth_json), load_truth_json(outs[2])
    geo = CopyGeometry.of(source["width"], source["height"], 0.05, 0.6)
    assert (copy["width"], copy["height"]) == (geo.width, geo.height)
    assert copy["frames"] == stats["frames"] == source["frames"] - 5
    assert copy["role"] == REUPLOAD_ROLE and copy["reupload"]["source"] == "world-train-01"
    assert copy["scenes"][0]["start"] == 0 and copy["scenes"][-1]["end"] == copy["frames"]

    source_frames = dict(iter_frames(video, fmt="bgr24"))
    source_masks = dict(read_truth(truth))
    copy_masks = dict(read_truth(outs[1]))
    own: list[dict] = []
    fits: list[float] = []
    misfits: list[float] = []
    for k, image in iter_frames(outs[0], fmt="bgr24"):
        f = k + 5
        # the pixels are the source's, cropped and rescaled (up to the codec and the watermark)
        fits.append(psnr(image, geo.image(source_frames[f])))
        off = min(f + 3, source["frames"] - 1)
        misfits.append(psnr(image, geo.image(source_frames[off])))
        assert np.array_equal(copy_masks[k], geo.image(source_masks[f], nearest=True))
        entry, of_source = copy["per_frame"][k], source["per_frame"][f]
        assert entry["instances"] == sorted(int(v) for v in np.unique(copy_masks[k]) if v)
        assert entry["scene"] == of_source["scene"]
        moved = [geo.box(d) for d in of_source["distractors"]]
        assert entry["distractors"] == [b for b in moved if b is not None]
        moved = [geo.box(w["box"]) for w in of_source["watermarks"]]
        boxes = [w["box"] for w in entry["watermarks"]]
        assert boxes[:-1] == [b for b in moved if b is not None]
        own.append(entry["watermarks"][-1])
    print(f"PSNR to the source frame: median {np.median(fits):.2f} dB, min {min(fits):.2f}; "
          f"to the frame 3 later: median {np.median(misfits):.2f}")  # fmt: skip
    assert min(fits) > 20
    assert np.median(fits) > np.median(misfits) + 6
    # its own watermark, in the same place on every frame
    assert len({(w["class"], tuple(w["box"])) for w in own}) == 1

    again = [tmp_path / f"again.{ext}" for ext in ("mp4", "mkv", "json")]
    render_reupload(spec, video, truth, truth_json, *again)
    for a, b in zip(outs, again, strict=True):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
