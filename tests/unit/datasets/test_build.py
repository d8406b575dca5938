"""The per-video job: clips, masks, metadata, manifest; determinism; bad inputs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mosaicflow.datasets.clips.build import build_video_clips
from mosaicflow.datasets.clips.media import read_video
from mosaicflow.datasets.clips.meta import ClipMetaError, read_clip_meta, read_manifest
from mosaicflow.datasets.clips.scenes import RegionTableError
from mosaicflow.io import write_parquet
from mosaicflow.video.decode import VideoDecodeError
from mosaicflow.yolo.watermark import sample_indices

from .conftest import CLIP_CFG, Source, make_cfg, make_source, mosaic_cfg

CFG = CLIP_CFG


def run(src: Source, out: Path, **overrides):
    cfg = make_cfg(**{**CFG, **overrides})
    return build_video_clips(
        src.video,
        src.index,
        src.regions,
        out,
        cfg,
        mosaic_cfg=mosaic_cfg(),
        video_id="vid-0123abcd",
        seed=3,
        code="abc",
    )


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_clips_masks_meta_written(source: Source, tmp_path: Path):
    records = run(source, tmp_path)
    # 24 frames at 10 fps: windows of 12 frames every 8 -> starts 0, 8 (12 + 4 -> 8..19, 16..23)
    assert [(r["frame_start"], r["n_frames"], r["status"]) for r in records] == [
        (0, 12, "kept"),
        (8, 12, "kept"),
        (16, 8, "kept"),
    ]
    meta = read_clip_meta(tmp_path / "meta" / "vid-0123abcd-000001.json")
    assert meta["clip"] == "vid-0123abcd-000001" and meta["track"] == 1
    assert meta["source_shape"] == [72, 96] and meta["out_shape"] == [32, 32]
    assert meta["code_hash"] == "abc" and len(meta["config_hash"]) == 12
    assert set(meta["block_sizes"]) >= {"area", "area_sigmoid", "coverage", "long_side", "chosen"}
    assert [f["frame"] for f in meta["per_frame"]] == list(range(8, 20))
    clip = read_video(tmp_path / meta["files"]["clip"])
    masks = read_video(tmp_path / meta["files"]["mask"], fmt="gray")
    assert clip.shape == (12, 32, 32, 3) and masks.shape == (12, 32, 32)
    assert set(np.unique(masks).tolist()) <= {0, 255}
    # the region is inside the crop: the mask holds the 20x20 square (scaled), the clip its pixels
    first = meta["per_frame"][0]
    x0, y0, x1, y1 = first["crop_box"]
    scale = meta["scale"]
    assert masks[0].sum() / 255 == pytest.approx(400 * scale * scale, rel=0.35)
    expected = source.frames[8][y0:y1, x0:x1]
    if scale == 1.0:
        assert np.abs(clip[0].astype(int) - expected.astype(int)).mean() < 6
    manifest = read_manifest(tmp_path / "videos" / "vid-0123abcd.json")
    assert [r["clip"] for r in manifest["clips"]] == [r["clip"] for r in records]


def test_cutting_a_video_logs_its_progress_in_frames(source: Source, tmp_path: Path, caplog):
    """A long video's clip job says how far it is (here the closing line: the 24 frames)."""
    import logging

    with caplog.at_level(logging.INFO, logger="mosaicflow.datasets.clips.build"):
        run(source, tmp_path)
    lines = [r.getMessage() for r in caplog.records if ": clips:" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("vid-0123abcd: clips: 24/24 frames ("), lines


def test_two_runs_are_byte_identical(source: Source, tmp_path: Path):
    run(source, tmp_path / "a", mask_growth={"p": 1.0})
    run(source, tmp_path / "b", mask_growth={"p": 1.0})
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a == b and len(a) == 3 * 3 + 1


def test_mask_growth_is_seeded_per_clip(source: Source, tmp_path: Path):
    grown = run(source, tmp_path / "g", mask_growth={"p": 1.0, "radius": [0.2, 0.3]})
    plain = run(source, tmp_path / "p")
    assert all(r["mask_growth_px"] >= 4 for r in grown)
    assert all(r["mask_growth_px"] == 0 for r in plain)
    big = read_video(tmp_path / "g" / grown[0]["files"]["mask"], fmt="gray")
    small = read_video(tmp_path / "p" / plain[0]["files"]["mask"], fmt="gray")
    assert (big > 0).sum() > (small > 0).sum()


def test_zero_regions_zero_clips(source: Source, tmp_path: Path):
    regions = pd.read_parquet(source.regions)
    empty = regions.iloc[:0]
    path = tmp_path / "regions.parquet"
    write_parquet(path, empty)
    src = Source(source.video, source.index, path, source.frames, {})
    assert run(src, tmp_path / "out") == []
    assert read_manifest(tmp_path / "out" / "videos" / "vid-0123abcd.json")["clips"] == []


def test_short_scene_is_skipped_with_reason(tmp_path: Path):
    src = make_source(tmp_path / "src", n=20, cut_at=17)
    records = run(src, tmp_path / "out", max_seconds=2.0)
    assert [(r["status"], r["reason"], r["n_frames"]) for r in records] == [
        ("kept", "", 17),
        ("skipped", "too_short", 3),
    ]
    assert records[1]["files"] is None
    assert not (tmp_path / "out" / "meta" / f"{records[1]['clip']}.json").exists()


def test_gap_frames_get_the_nearest_mask(tmp_path: Path):
    src = make_source(tmp_path / "src", n=12, missing=(5,))
    records = run(src, tmp_path / "out", max_seconds=2.0)
    assert len(records) == 1 and not records[0]["per_frame"][5]["detected"]
    masks = read_video(tmp_path / "out" / records[0]["files"]["mask"], fmt="gray")
    assert masks[5].any()


def test_region_table_of_another_video_fails_naming_it(source: Source, tmp_path: Path):
    regions = pd.read_parquet(source.regions)
    regions.loc[regions.index[-1], "frame"] = 99
    path = tmp_path / "regions.parquet"
    write_parquet(path, regions)
    with pytest.raises(RegionTableError, match=r"regions\.parquet: frame 99"):
        run(Source(source.video, source.index, path, source.frames, {}), tmp_path / "out")
    regions = pd.read_parquet(source.regions)
    regions["x1"] = regions["x1"] + 200
    write_parquet(path, regions)
    with pytest.raises(RegionTableError, match="outside the 96x72 frame"):
        run(Source(source.video, source.index, path, source.frames, {}), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_video_that_does_not_match_its_index_fails_naming_it(source: Source, tmp_path: Path):
    index = pd.read_parquet(source.index)
    index["pts"] = index["pts"] + 1
    path = tmp_path / "index.parquet"
    write_parquet(path, index)
    src = Source(source.video, path, source.regions, source.frames, {})
    with pytest.raises(VideoDecodeError, match=r"video\.mp4: frame 0 has pts"):
        run(src, tmp_path / "out")
    assert not (tmp_path / "out" / "videos").exists()


def test_corrupt_frame_in_the_middle_fails_naming_the_file(tmp_path: Path):
    import av

    src = make_source(tmp_path / "src", n=16)
    data = bytearray(src.video.read_bytes())
    with av.open(str(src.video)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    pos, size = packets[len(packets) // 2]
    data[pos + size // 4 : pos + size // 4 + min(64, size // 2)] = bytes(min(64, size // 2))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(VideoDecodeError, match=r"broken\.mp4: corrupt data"):
        run(
            Source(broken, src.index, src.regions, src.frames, {}),
            tmp_path / "out",
            max_seconds=2.0,
        )
    assert not (tmp_path / "out" / "videos").exists()


def test_manifest_validation_names_the_file(source: Source, tmp_path: Path):
    run(source, tmp_path)
    meta = tmp_path / "meta" / "vid-0123abcd-000000.json"
    text = meta.read_text().replace('"version": 2', '"version": 7')
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(ClipMetaError, match=r"bad\.json: clip metadata version 7"):
        read_clip_meta(bad)


def test_full_frame_and_ffv1(source: Source, tmp_path: Path):
    records = run(source, tmp_path, crop="full_frame", codec="ffv1", out_size=48)
    meta = records[0]
    assert meta["files"]["clip"].endswith(".mkv") and meta["content_shape"] == [36, 48]
    clip = read_video(tmp_path / meta["files"]["clip"])
    assert clip.shape == (12, 48, 48, 3) and not clip[:, :6].any()
    shutil.rmtree(tmp_path / "clips")


def test_mask_of_another_frame_size_fails_naming_the_table(source: Source, tmp_path: Path):
    from mosaicflow.yolo.infer import encode_rle

    for shape, problem in (((144, 192), "cannot decode"), ((96, 72), "the mask does not match")):
        regions = pd.read_parquet(source.regions)
        other = np.zeros(shape, bool)
        other[8:28, 6:26] = True  # frame 0's square, in a frame of another size
        regions["rle"] = encode_rle(other)
        path = tmp_path / "regions.parquet"
        write_parquet(path, regions)
        with pytest.raises(
            RegionTableError, match=rf"regions\.parquet: frame 0, track 1: {problem}"
        ):
            run(Source(source.video, source.index, path, source.frames, {}), tmp_path / "out")


def test_rejected_video_gives_an_empty_manifest(tmp_path: Path):
    from mosaicflow.video.frames import _empty_index

    write_parquet(tmp_path / "index.parquet", _empty_index())
    write_parquet(tmp_path / "regions.parquet", pd.DataFrame({"frame": []}))
    src = Source(
        tmp_path / "missing.mp4",
        tmp_path / "index.parquet",
        tmp_path / "regions.parquet",
        np.zeros(0),
        {},
    )
    assert run(src, tmp_path / "out") == []
    assert read_manifest(tmp_path / "out" / "videos" / "vid-0123abcd.json")["clips"] == []


def test_watermark_detector_looks_at_the_analysed_frames_once(source: Source, tmp_path: Path):
    seen: list[tuple[int, ...]] = []

    def detector(rgb: np.ndarray) -> np.ndarray:
        seen.append(rgb.shape)
        return np.array([[0, 0, 96, 72]], np.float64)  # a watermark over the whole frame

    cfg = make_cfg(**{**CFG, "analysers": {"frames": 3}})
    records = build_video_clips(
        source.video, source.index, source.regions, tmp_path, cfg, mosaic_cfg=mosaic_cfg(),
        video_id="vid-0123abcd", seed=3, code="abc", watermark_detector=detector,
    )  # fmt: skip
    assert all(r["analysers"]["watermark"] == 1.0 for r in records)
    analysed = set()
    for r in records:  # 3 evenly spaced frames per clip, each source frame detected once
        frames = [f["frame"] for f in r["per_frame"]]
        analysed |= {frames[t] for t in sample_indices(len(frames), 3)}
    assert len(seen) == len(analysed) and seen[0] == (72, 96, 3)
    with pytest.raises(ValueError, match="not both"):
        build_video_clips(
            source.video, source.index, source.regions, tmp_path, cfg, mosaic_cfg=mosaic_cfg(),
            video_id="vid-0123abcd", seed=3, code="abc", watermarks={},
            watermark_detector=detector,
        )  # fmt: skip


def test_rerun_removes_only_this_videos_stale_clips(source: Source, tmp_path: Path):
    run(source, tmp_path)
    other = tmp_path / "clips" / "vid-9999abcd-000007.mp4"  # another video's clip
    other.write_bytes(b"keep me")
    assert len(list((tmp_path / "clips").glob("vid-0123abcd-*"))) == 3
    records = run(source, tmp_path, max_clips_per_video=1)
    kept = [r["clip"] for r in records if r["status"] == "kept"]
    assert len(kept) == 1
    for folder in ("clips", "masks", "meta"):
        names = sorted(p.name.split(".")[0] for p in (tmp_path / folder).glob("vid-0123abcd-*"))
        assert names == kept
    assert other.read_bytes() == b"keep me"
