"""The mosaic detection dataset: sampling, dedup, positives, negatives, labels, split, reruns."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from mosaicflow.config import build
from mosaicflow.datasets.censor import CensorCheck, CensorConfig
from mosaicflow.datasets.detection.aggregate import build_detection_dataset
from mosaicflow.datasets.detection.build import (
    assign_kinds,
    build_video_samples,
    negative_counts,
)
from mosaicflow.datasets.detection.dedup import drop_near_duplicates, phash
from mosaicflow.datasets.detection.sampling import sample_frames, scene_quotas
from mosaicflow.datasets.detection.split import split_samples
from mosaicflow.datasets.detection.synth import clip_params, mosaic_change, pixelate
from mosaicflow.formats.coco import annotation_mask
from mosaicflow.formats.masks import read_mask
from tests.unit.datasets.conftest import full_config, mosaic_cfg, texture
from tests.unit.datasets.detection.conftest import detection_cfg

pytestmark = pytest.mark.usefixtures("ultralytics_offline")


def _index(scenes: list[int], kept: list[bool] | None = None) -> pd.DataFrame:
    n = len(scenes)
    return pd.DataFrame(
        {"frame": range(n), "kept": kept or [True] * n, "scene": np.asarray(scenes, "int32")}
    )


def test_scene_quotas_are_proportional_and_cover_every_scene():
    assert scene_quotas([10, 30, 60], 10) == [1, 3, 6]
    assert scene_quotas([1, 100], 5) == [1, 4]  # every scene gets one while n allows
    assert scene_quotas([5, 50, 20], 2) == [0, 1, 1]  # fewer samples than scenes: the largest
    assert sum(scene_quotas([3, 2], 50)) == 5  # never more than there are


def test_sampling_spreads_over_scenes_and_skips_dropped_frames():
    scenes = [0] * 40 + [1] * 40 + [2] * 20
    kept = [i % 5 != 0 for i in range(100)]
    picked = sample_frames(_index(scenes, kept), 10, np.random.default_rng(0))
    assert len(picked) == len(set(picked)) == 10
    assert all(kept[f] for f in picked)
    per_scene = np.bincount([scenes[f] for f in picked], minlength=3).tolist()
    assert per_scene == [4, 4, 2]
    in_scene0 = [f for f in picked if scenes[f] == 0]
    assert max(in_scene0) - min(in_scene0) >= 20  # spread, not bunched
    assert picked == sample_frames(_index(scenes, kept), 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="scene"):
        sample_frames(pd.DataFrame({"frame": [0], "kept": [True]}), 1, np.random.default_rng(0))


def test_near_duplicates_are_dropped_with_reasons():
    rng = np.random.default_rng(1)
    a, b = texture(rng, 64, 64), texture(rng, 64, 64)
    noisy = np.clip(a.astype(int) + rng.integers(-2, 3, a.shape), 0, 255).astype(np.uint8)
    hashes = [phash(x) for x in (a, noisy, b, a)]
    kept, drops = drop_near_duplicates([0, 1, 2, 3], hashes, max_distance=4)
    assert kept == [0, 2]
    assert [(d.frame, d.duplicate_of) for d in drops] == [(1, 0), (3, 0)]
    assert "near-duplicate of frame 0" in drops[0].reason
    kept0, _ = drop_near_duplicates([0, 2], [hashes[0], hashes[2]], max_distance=0)
    assert kept0 == [0, 2]


def test_positive_is_pixelated_inside_its_mask_and_untouched_outside():
    rng = np.random.default_rng(2)
    image = texture(rng, 96, 128)
    mask = np.zeros((96, 128), bool)
    mask[20:60, 30:90] = True
    params_for = clip_params(mosaic_cfg(feather={"p": 0.0}), [0, 0, 1], (96, 128))
    out, mosaic, params = pixelate(image, [((0, 1), mask)], params_for)
    assert mosaic[mask].mean() > 0.9  # the region is covered
    assert np.array_equal(out[~mosaic], image[~mosaic])  # bit-identical outside
    assert (out[mosaic] != image[mosaic]).any(axis=-1).mean() > 0.5  # really changed inside
    # blocky (no feathering here): at most one colour per block of the grid
    block = params[0]["block_h"] * params[0]["block_w"]
    colours = len(np.unique(out[mosaic].reshape(-1, 3), axis=0))
    assert block >= 4 and colours <= mosaic.sum() / block + 2 * (mosaic.sum() ** 0.5)
    # one clip, one parameter set: the same key gives the same mosaic
    assert params_for((0, 1), mask) is params_for((0, 1), np.roll(mask, 5, axis=1))


def test_a_mosaic_that_changes_too_little_is_neither_drawn_nor_labelled():
    rng = np.random.default_rng(3)
    flat = np.full((96, 128, 3), (40, 60, 150), np.uint8)  # a flat area: a mosaic changes nothing
    flat[..., 0] += (np.arange(128) // 64).astype(np.uint8)[None, :]  # a faint step
    textured = texture(rng, 96, 128)
    image = np.concatenate([flat[:, :64], textured[:, 64:]], axis=1)
    left, right = np.zeros((96, 128), bool), np.zeros((96, 128), bool)
    left[20:70, 8:56], right[20:70, 72:120] = True, True
    params_for = clip_params(mosaic_cfg(feather={"p": 0.0}), [0, 0, 1], (96, 128))
    regions = [((0, 1), left), ((0, 2), right)]
    drawn_all, mask_all, params_all = pixelate(image, regions, params_for)
    assert [p["drawn"] for p in params_all] == [True, True]  # 0 = every mosaic drawn
    assert mask_all[left].mean() > 0.9 and mask_all[right].mean() > 0.9
    assert params_all[0]["change"] < 1.0 < 3.0 < params_all[1]["change"]
    out, mask, params = pixelate(image, regions, params_for, min_change=3.0)
    assert [p["drawn"] for p in params] == [False, True]
    assert not mask[left].any() and mask[right].mean() > 0.9  # the faint one is not labelled
    assert np.array_equal(out[:, :64], image[:, :64])  # ... nor drawn: the region stays clean
    assert np.array_equal(out[mask], drawn_all[mask])  # the visible one is drawn as before
    assert mosaic_change(image, out, mask) == pytest.approx(params[1]["change"], abs=1e-3)
    assert mosaic_change(image, out, np.zeros_like(mask)) == 0.0


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5])
def test_negative_fraction_is_respected(fraction):
    regions = {f: ([((0, 1), np.ones((4, 4), bool))] if f % 4 else []) for f in range(40)}
    kinds, surplus = assign_kinds(
        regions, detection_cfg(negatives=fraction), np.random.default_rng(0)
    )
    negatives = sum(k != "positive" for k in kinds.values())
    assert abs(negatives / len(kinds) - fraction) <= 1 / len(kinds) + 1e-9
    assert all(regions[f] == [] for f in surplus)
    assert all(kinds[f] in ("empty", "clean", "flat_logo") or regions[f] for f in kinds)
    assert negative_counts(30, 0, 0.2) == (0, 6)
    assert negative_counts(30, 100, 0.25) == (10, 0)


def _build(det_source, out: Path, name: str = "vid-00000000", **over):
    cfg = detection_cfg(**{"frames_per_video": 12, "imgsz": 64, "degrade": False, **over})
    return build_video_samples(
        cfg, mosaic_cfg(), det_source.video, det_source.index, out / name, out / f"{name}.json",
        video_id=name, seed=7, regions_parquet=det_source.regions,
    )  # fmt: skip


def test_video_samples_images_masks_and_manifest(det_source, tmp_path):
    result = _build(det_source, tmp_path, negatives=0.25, hard_negatives=1.0)
    manifest = json.loads((tmp_path / "vid-00000000.json").read_text())
    samples = manifest["samples"]
    assert result.images == len(samples) > 0 and result.positives > 0 and result.negatives > 0
    assert manifest["counts"]["sampled"] == 12
    assert {d["frame"] for d in manifest["dropped"]}.isdisjoint({s["frame"] for s in samples})
    for sample in samples:
        image = cv2.imread(str(tmp_path / "vid-00000000" / "images" / f"{sample['stem']}.png"))
        mask = read_mask(tmp_path / "vid-00000000" / "masks" / f"{sample['stem']}.png")
        assert max(image.shape[:2]) == 64 and mask.shape == image.shape[:2]
        assert mask.any() == sample["positive"] == (sample["kind"] == "positive")
        if not sample["positive"]:
            assert sample["hard"] in ("blocky_jpeg", "pixel_art")


def test_missing_region_source_names_the_key(det_source, tmp_path):
    cfg = detection_cfg(regions="truth")
    with pytest.raises(ValueError, match=r"detection_dataset\.regions"):
        build_video_samples(
            cfg, mosaic_cfg(), det_source.video, det_source.index, tmp_path / "x",
            tmp_path / "x.json", video_id="x", seed=0,
        )  # fmt: skip


def test_undecodable_video_names_the_file(det_source, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match=r"broken\.mp4"):
        build_video_samples(
            detection_cfg(), mosaic_cfg(), bad, det_source.index, tmp_path / "x",
            tmp_path / "x.json", video_id="x", seed=0, regions_parquet=det_source.regions,
        )  # fmt: skip


def test_split_by_video_follows_roles_or_fractions():
    samples = [{"video": f"v{i}", "positive": bool(j % 2)} for i in range(10) for j in range(4)]
    cfg = detection_cfg().split
    splits = split_samples(samples, cfg, roles=None, seed=3)
    videos = {name: {s["video"] for s in members} for name, members in splits.items()}
    assert set().union(*videos.values()) == {f"v{i}" for i in range(10)}
    assert sum(len(v) for v in videos.values()) == 10  # no video in two splits
    assert videos["val"] and videos["test"] and videos["train"]
    roles = {f"v{i}": ("test" if i == 0 else "val" if i == 1 else "train") for i in range(10)}
    by_role = split_samples(samples, cfg, roles=roles, seed=3)
    assert {s["video"] for s in by_role["test"]} == {"v0"}
    assert {s["video"] for s in by_role["val"]} == {"v1"}
    # a sheet's roles pin their videos; the others are shared out by the fractions
    pinned = split_samples(samples, cfg, roles={"v0": "test", "v1": "train"}, seed=3)
    pinned_videos = {name: {s["video"] for s in members} for name, members in pinned.items()}
    assert "v0" in pinned_videos["test"] and "v1" in pinned_videos["train"]
    assert sum(len(v) for v in pinned_videos.values()) == 10
    assert pinned_videos["val"] and len(pinned_videos["test"]) > 1
    for members in pinned.values():  # input order kept
        assert members == [s for s in samples if s in members]


def _dataset(det_source, root: Path) -> Path:
    names = ["a-00000001", "b-00000002", "c-00000003"]
    for i, name in enumerate(names):
        _build(det_source, root / "samples", name, negatives=0.3, hash_distance=2 + i)
    out = root / "dataset"
    build_detection_dataset(
        detection_cfg(),
        [root / "samples" / f"{n}.json" for n in names],
        [root / "samples" / n for n in names],
        out,
        roles=dict(zip(names, ["train", "val", "test"], strict=True)),
        seed=7,
        code="test",
        config_dir=root / "yolo",
    )
    return out


def test_dataset_shards_unpack_to_the_same_yolo_folder(det_source, tmp_path):
    from mosaicflow.datasets.shards import shard_detection, unpack_detection
    from mosaicflow.yolo.dataset import read_dataset

    out = _dataset(det_source, tmp_path)
    result = shard_detection(out, tmp_path / "shards", max_bytes=50_000)
    assert result.shards > 1
    again = shard_detection(out, tmp_path / "shards2", max_bytes=50_000)
    assert again == result
    for tar in sorted((tmp_path / "shards").glob("*.tar")):
        assert tar.read_bytes() == (tmp_path / "shards2" / tar.name).read_bytes()
    unpacked = unpack_detection(tmp_path / "shards", tmp_path / "unpacked")
    folders = ("images", "labels", "masks")
    originals = sorted(p.relative_to(out) for p in out.glob("*/*/*") if p.parent.name in folders)
    assert originals == sorted(p.relative_to(unpacked) for p in unpacked.glob("*/*/*"))
    for rel in originals:
        assert (unpacked / rel).read_bytes() == (out / rel).read_bytes()
    # the trainer sees the same dataset: same splits, counts and data hash
    assert read_dataset(unpacked).data_hash == read_dataset(out).data_hash
    assert read_dataset(unpacked).counts == read_dataset(out).counts


def test_dataset_coco_round_trip_yolo_labels_and_data_yaml(det_source, tmp_path):
    out = _dataset(det_source, tmp_path)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "mosaic"} and Path(data["train"]).is_absolute()
    assert Path(data["train"]) == (out / "train" / "images").absolute()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["splits"] == {"train": ["a-00000001"], "val": ["b-00000002"],
                              "test": ["c-00000003"]}  # fmt: skip
    for split in ("train", "val", "test"):
        coco = json.loads((out / "coco" / f"{split}.json").read_text())
        assert coco["categories"][0]["name"] == "mosaic"
        for image in coco["images"]:
            stem = Path(image["file_name"]).stem
            mask = read_mask(out / split / "masks" / f"{stem}.png")
            decoded = np.zeros_like(mask)
            for ann in coco["annotations"]:
                if ann["image_id"] == image["id"]:
                    decoded |= annotation_mask(ann, image["height"], image["width"])
            assert np.array_equal(decoded, mask)
            lines = (out / split / "labels" / f"{stem}.txt").read_text().splitlines()
            assert bool(lines) == bool(mask.any())
            for line in lines:
                values = [float(v) for v in line.split()]
                assert values[0] == 0 and all(0 <= v <= 1 for v in values[1:])
                assert len(values) >= 7 and len(values) % 2 == 1


def test_samples_table_lists_every_image_with_its_mosaics(det_source, tmp_path):
    import pandas as pd

    out = _dataset(det_source, tmp_path)
    table = pd.read_parquet(out / "samples.parquet")
    images = sorted(p.relative_to(out).as_posix() for p in out.glob("*/images/*.png"))
    assert sorted(table["image"]) == images
    for row in table.itertuples():
        mask = read_mask(out / row.split / "masks" / f"{row.stem}.png")
        assert row.mosaic_px == pytest.approx(np.sqrt(mask.sum()), abs=0.01)
        assert (row.mosaics > 0) == (row.block_size > 0)
        assert (row.mosaic_px > 0) <= (row.mosaics > 0)  # a mask only where a mosaic is drawn


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(
            p.read_bytes().replace(str(folder).encode(), b"<root>")
        ).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_two_runs_are_byte_identical(det_source, tmp_path):
    first = _dataset(det_source, tmp_path / "one")
    second = _dataset(det_source, tmp_path / "two")
    a, b = _digest(first.parent), _digest(second.parent)
    a = {k: v for k, v in a.items() if not k.startswith("yolo/")}
    b = {k: v for k, v in b.items() if not k.startswith("yolo/")}
    assert a == b and len(a) > 10


def test_degraded_run_is_deterministic(det_source, tmp_path):
    for name in ("one", "two"):
        _build(det_source, tmp_path / name, frames_per_video=4, degrade=True)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def test_malformed_manifest_names_the_file(det_source, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match=r"bad\.json"):
        build_detection_dataset(
            detection_cfg(), [bad], [tmp_path], tmp_path / "out", roles=None, seed=0,
            code="x", config_dir=tmp_path / "yolo",
        )  # fmt: skip


def test_clean_regions_leave_some_targets_unpixelated_but_never_all():
    from mosaicflow.datasets.detection.build import make_sample

    rng = np.random.default_rng(3)
    image = texture(rng, 96, 128)
    left, right = np.zeros((96, 128), bool), np.zeros((96, 128), bool)
    left[20:60, 10:50], right[20:60, 70:110] = True, True
    regions = [((0, 1), left), ((0, 2), right)]
    mosaic = mosaic_cfg(feather={"p": 0.0})
    params_for = clip_params(mosaic, [0, 0, 1], (96, 128))
    seen = set()
    for seed in range(12):
        cfg = detection_cfg(imgsz=128, degrade=False, clean_regions=1.0, random_mosaics=0.0)
        out, mask, record = make_sample(
            image, regions, "positive", cfg, mosaic, params_for, np.random.default_rng(seed)
        )
        # every region may stay clean, but one is always pixelated and only it is labelled
        assert record["clean_regions"] == 1 and len(record["mosaics"]) == 1
        covered = tuple(bool(mask[m].mean() > 0.9) for m in (left, right))
        assert sorted(covered) == [False, True]
        clean = left if covered[1] else right
        assert np.array_equal(out[clean], image[clean])  # the clean target is untouched
        seen.add(covered)
    assert len(seen) == 2  # either region can be the one left clean
    off = detection_cfg(imgsz=128, degrade=False, clean_regions=0.0, random_mosaics=0.0)
    _, mask, record = make_sample(
        image, regions, "positive", off, mosaic, params_for, np.random.default_rng(0)
    )
    assert "clean_regions" not in record
    assert mask[left].mean() > 0.9 and mask[right].mean() > 0.9  # 0: every region pixelated


def test_random_blob_is_a_filled_shape_of_the_asked_size():
    from mosaicflow.datasets.detection.synth import random_blob

    rng = np.random.default_rng(5)
    shares = []
    for _ in range(40):
        blob = random_blob((120, 200), rng, area=(0.04, 0.08))
        assert blob.dtype == bool and blob.shape == (120, 200) and blob.any()
        count, _ = cv2.connectedComponents(blob.astype(np.uint8))
        assert count == 2  # one filled piece
        shares.append(blob.mean())
    # clipped at the frame's edge at times, never larger than asked (drawing rounds up a little)
    assert max(shares) <= 0.08 * 1.15 and np.median(shares) > 0.03


def test_random_mosaics_pixelate_a_blob_and_label_it_in_every_kind_but_pure_negatives():
    from mosaicflow.datasets.detection.build import make_sample

    rng = np.random.default_rng(4)
    image = texture(rng, 96, 128)
    target = np.zeros((96, 128), bool)
    target[20:60, 10:50] = True
    regions = [((0, 1), target)]
    mosaic = mosaic_cfg(feather={"p": 0.0})
    params_for = clip_params(mosaic, [0, 0, 1], (96, 128))
    cfg = detection_cfg(imgsz=128, degrade=False, random_mosaics=1.0)
    for kind in ("positive", "empty", "clean"):
        out, mask, record = make_sample(
            image, regions if kind != "empty" else [], kind, cfg, mosaic, params_for,
            np.random.default_rng(1),
        )  # fmt: skip
        assert "random_mosaic" in record and record["random_mosaic"]["block_h"] >= 3
        outside = mask & ~target
        assert outside.any()  # the blob lies (at least partly) off the target
        changed = np.any(out != image, axis=2)
        assert not (changed & ~mask).any()  # only labelled pixels change
        if kind == "clean":
            assert not mask[target & ~outside].all()  # the target itself stays clean
    _, mask, record = make_sample(
        image, regions, "flat_logo", cfg, mosaic, params_for, np.random.default_rng(1)
    )
    assert "random_mosaic" not in record and not mask.any()  # flat logos stay negatives
    hard = detection_cfg(imgsz=128, degrade=False, random_mosaics=1.0, hard_negatives=1.0)
    _, mask, record = make_sample(
        image, [], "empty", hard, mosaic, params_for, np.random.default_rng(1)
    )
    assert "hard" in record and "random_mosaic" not in record and not mask.any()
    # a blob mosaic fainter than min_mosaic_change is neither drawn nor labelled either
    faint = detection_cfg(imgsz=128, degrade=False, random_mosaics=1.0, min_mosaic_change=255.0)
    out, mask, record = make_sample(
        image, [], "empty", faint, mosaic, params_for, np.random.default_rng(1)
    )
    assert record["random_mosaic"]["drawn"] is False and record["random_mosaic"]["change"] > 0
    assert np.array_equal(out, image) and not mask.any()


def test_random_mosaics_off_adds_no_mosaic_and_is_deterministic():
    from mosaicflow.datasets.detection.build import make_sample

    rng = np.random.default_rng(4)
    image = texture(rng, 96, 128)
    mosaic = mosaic_cfg()
    params_for = clip_params(mosaic, [0, 0, 1], (96, 128))
    off = detection_cfg(imgsz=128, random_mosaics=0.0)
    results = [
        make_sample(image, [], "empty", off, mosaic, params_for, np.random.default_rng(2))
        for _ in range(2)
    ]
    assert np.array_equal(results[0][0], results[1][0]) and not results[0][1].any()
    assert "random_mosaic" not in results[0][2]


def test_size_scale_widens_the_training_block_sizes_only(det_source, tmp_path):
    def blocks(out, **over):
        _build(det_source, out, **over)
        manifest = json.loads((out / "vid-00000000.json").read_text())
        return [m["block_h"] for s in manifest["samples"] for m in s.get("mosaics", [])]

    default = blocks(tmp_path / "default")
    coarse = blocks(tmp_path / "coarse", size_scale=[4.0, 4.0])
    assert default and len(coarse) == len(default)
    assert all(c >= d for c, d in zip(coarse, default, strict=True))
    assert np.mean(coarse) > 1.5 * np.mean(default)
    assert blocks(tmp_path / "same", size_scale=[0.7, 2.2]) == default  # mosaic.size_scale


def test_samples_carry_their_source_quality_and_low_ones_are_left_out(det_source, tmp_path):
    import pandas as pd

    names = ["a-00000001", "b-00000002", "c-00000003"]
    for i, name in enumerate(names):
        cfg = detection_cfg(frames_per_video=12, imgsz=64, degrade=False, negatives=0.3)
        # a stand-in scorer: the mean brightness of the source frame, and 1 - it
        build_video_samples(
            cfg, mosaic_cfg(), det_source.video, det_source.index, tmp_path / name,
            tmp_path / f"{name}.json", video_id=name, seed=7 + i,
            regions_parquet=det_source.regions,
            quality_scorer=lambda rgb: (float(rgb.mean() / 255), 1 - float(rgb.mean() / 255)),
        )  # fmt: skip
    scored = [s for n in names for s in json.loads((tmp_path / f"{n}.json").read_text())["samples"]]
    qualities = sorted(s["source_quality"] for s in scored)
    assert all(0 <= q <= 1 for q in qualities)
    limit = qualities[len(qualities) // 4]

    def dataset(out: str, **over) -> Path:
        build_detection_dataset(
            detection_cfg(**over), [tmp_path / f"{n}.json" for n in names],
            [tmp_path / n for n in names], tmp_path / out,
            roles=dict(zip(names, ["train", "val", "test"], strict=True)), seed=7, code="test",
            config_dir=tmp_path / "yolo",
        )  # fmt: skip
        return tmp_path / out

    everything = pd.read_parquet(dataset("all") / "samples.parquet")
    assert sorted(everything["source_quality"]) == pytest.approx(qualities)
    kept = dataset("kept", min_source_quality=limit)
    table = pd.read_parquet(kept / "samples.parquet")
    below = sum(q < limit for q in qualities)
    assert below > 0 and len(table) == len(qualities) - below
    assert (table["source_quality"] >= limit).all()
    prov = json.loads((kept / "provenance.json").read_text())
    assert prov["counts"]["dropped:source_quality"] == below


def censor_check(**over) -> CensorCheck:
    return CensorCheck(build(CensorConfig, full_config(censor=over)["censor"]))


def _samples(det_source, out: Path, censor: CensorCheck | None = None) -> dict:
    cfg = detection_cfg(frames_per_video=12, imgsz=64, degrade=False)
    build_video_samples(
        cfg, mosaic_cfg(), det_source.video, det_source.index, out / "v", out / "v.json",
        video_id="vid-00000000", seed=7, regions_parquet=det_source.regions, censor=censor,
    )  # fmt: skip
    return json.loads((out / "v.json").read_text())


def test_censored_sample_frames_are_dropped_with_their_reason(det_source, tmp_path):
    plain = _samples(det_source, tmp_path / "plain")
    kept = _samples(det_source, tmp_path / "kept", censor_check(max_blockiness=1.0))
    assert kept["samples"] == plain["samples"]  # nothing flagged: the same samples
    assert kept["counts"]["censored"] == 0
    strict = _samples(det_source, tmp_path / "strict", censor_check(max_blockiness=0.0))
    censored = [d for d in strict["dropped"] if d["reason"].startswith("censored: blockiness")]
    assert censored and strict["counts"]["censored"] == len(censored)
    # every frame with a region is dropped; frames without one are not looked at
    assert {d["frame"] for d in censored} >= {s["frame"] for s in plain["samples"] if s["regions"]}
    assert not any(s["regions"] for s in strict["samples"])
