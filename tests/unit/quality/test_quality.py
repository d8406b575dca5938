"""The source-quality classifier: its crops, its training samples, what it learns on a small
textured video, and the clip scores against degraded scenes."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest

from mosaicflow.datasets.clips.analysers import filter_reason, source_quality
from mosaicflow.datasets.clips.config import FiltersConfig
from mosaicflow.io import read_json, write_json
from mosaicflow.mosaic.degrade import pixelate_regions, upscale_from_low
from mosaicflow.quality.classes import (
    CLASSES,
    crop_windows,
    make_sample,
    reencode_windows,
    reencoded,
    window_margin,
)
from mosaicflow.quality.config import QualityConfig
from mosaicflow.quality.evaluate import (
    clip_truth,
    scene_frames,
    scenes_table,
    score_against_truth,
)
from mosaicflow.quality.roc import auroc
from mosaicflow.quality.score import QualityScorer, combine_crops, five_crops, one_resize
from mosaicflow.quality.train import (
    AT_SCORED_CROPS,
    WINDOWS_PER_FRAME,
    FrameSource,
    degrade_frame,
    frame_windows,
    pick_frames,
    train_classifier,
)


def test_five_crops_are_the_corners_and_the_centre_at_full_resolution():
    frame = np.zeros((100, 160, 3), np.uint8)
    frame[..., 0] = np.arange(160)[None, :]
    frame[..., 1] = np.arange(100)[:, None]
    crops = five_crops(frame, 40)
    assert [c.shape for c in crops] == [(40, 40, 3)] * 5
    origins = [(int(c[0, 0, 1]), int(c[0, 0, 0])) for c in crops]
    assert origins == [(0, 0), (0, 120), (60, 0), (60, 120), (30, 60)]
    small = five_crops(np.full((20, 30, 3), 7, np.uint8), 40)  # edge-padded
    assert all(c.shape == (40, 40, 3) and (c == 7).all() for c in small)
    assert one_resize(frame, 40).shape == (40, 40, 3)


def test_training_windows_hold_the_scored_crops_in_their_middle():
    frame = np.zeros((100, 160, 3), np.uint8)
    frame[..., 0] = np.arange(160)[None, :]
    frame[..., 1] = np.arange(100)[:, None]
    windows = crop_windows(frame, 40, 8)
    assert [w.shape for w in windows] == [(56, 56, 3)] * 5
    middles = [w[8:48, 8:48] for w in windows]
    for middle, crop in zip(middles, five_crops(frame, 40), strict=True):
        assert np.array_equal(middle, crop)
    # context past the frame's edge is the frame mirrored, not a flat fill
    assert windows[0][0, 8:48, 1].tolist() == [8] * 40
    assert windows[0][8, 0:8, 0].tolist() == list(range(8, 0, -1))

    cfg = QualityConfig(crop=40)
    margin = window_margin(cfg)
    crops = {c.tobytes() for c in five_crops(frame, 40)}
    drawn = frame_windows(frame, cfg, np.random.default_rng(0))
    assert len(drawn) == WINDOWS_PER_FRAME
    middles = [w[margin : margin + 40, margin : margin + 40].tobytes() for w in drawn]
    assert len(crops & set(middles[:AT_SCORED_CROPS])) == AT_SCORED_CROPS


def _texture(seed: int, height: int = 96, width: int = 128) -> np.ndarray:
    """A sharp, textured image: noise at several scales."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for scale in (2, 4, 8, 16):
        small = rng.uniform(0, 255, (height // scale + 1, width // scale + 1, 3)).astype(np.float32)
        image += cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)[
            :height, :width
        ]
    return np.clip(image / 4, 0, 255).astype(np.uint8)


def test_each_class_sample_has_the_crop_size_and_only_clean_is_untouched():
    cfg = QualityConfig(crop=48, reencode_p=0.0)
    frame = _texture(0)
    for label, kind in enumerate(CLASSES):
        rng = np.random.default_rng(1)
        sample = make_sample(frame, label, cfg, rng)
        assert sample.shape == (48, 48, 3) and sample.dtype == np.uint8
        rng = np.random.default_rng(1)
        size = cfg.crop + 2 * window_margin(cfg)
        y = int(rng.integers(0, frame.shape[0] - size + 1))
        x = int(rng.integers(0, frame.shape[1] - size + 1))
        m = window_margin(cfg)
        original = frame[y + m : y + m + 48, x + m : x + m + 48]
        assert (sample == original).all() == (kind == "clean"), kind


def test_a_reencode_follows_every_class_clean_included():
    frame = _texture(0)

    def sample(kind: str, **cfg) -> np.ndarray:
        config = QualityConfig(crop=48, **cfg)
        return make_sample(frame, CLASSES.index(kind), config, np.random.default_rng(1))

    plain = sample("clean", reencode_p=0.0)
    again = sample("clean", reencode_crf=(28, 28))
    blurred = sample("blur", reencode_p=0.0)
    assert again.shape == plain.shape and not (again == plain).all()
    change = lambda a: np.abs(a.astype(int) - plain.astype(int)).mean()  # noqa: E731
    assert change(again) < 0.75 * change(blurred)  # an everyday CRF: milder than the damage
    with pytest.raises(ValueError, match="reencode_p"):
        QualityConfig(reencode_p=1.5)
    with pytest.raises(ValueError, match="reencode_crf"):
        QualityConfig(reencode_crf=(30, 20))


def test_windows_reencoded_together_come_back_in_place_and_alike_each_time():
    rng = np.random.default_rng(4)
    windows = [_texture(k, 72, 72) for k in range(5)]  # 72: padded to 80 for the macroblocks
    windows[2] = np.full((72, 72, 3), 90, np.uint8)
    out = reencode_windows(windows, 24)
    assert [w.shape for w in out] == [(72, 72, 3)] * 5
    error = np.array([[np.abs(o.astype(int) - w.astype(int)).mean() for w in windows] for o in out])
    assert (error.argmin(axis=1) == np.arange(5)).all()  # each window back in its place
    assert error[2, 2] < 1.0  # a flat window stays flat beside textured neighbours
    assert all((a == b).all() for a, b in zip(out, reencode_windows(windows, 24), strict=True))
    assert reencode_windows([], 24) == []
    frame = _texture(9, 90, 150)  # a whole frame, not square
    assert reencode_windows([frame], 24)[0].shape == frame.shape
    with pytest.raises(ValueError, match="shapes"):
        reencode_windows([frame, windows[0]], 24)
    kept = reencoded(windows, QualityConfig(reencode_p=0.0), rng)
    assert all(a is b for a, b in zip(kept, windows, strict=True))


def test_whole_frame_degradations_change_the_frame():
    cfg = QualityConfig()
    frame = _texture(2, 120, 200)
    for label in range(1, len(CLASSES)):
        out = degrade_frame(frame, label, cfg, np.random.default_rng(label))
        assert out.shape == frame.shape and not (out == frame).all()
    mosaic = degrade_frame(frame, CLASSES.index("mosaic"), cfg, np.random.default_rng(0))
    changed = (mosaic != frame).any(axis=2).mean()
    assert 0.005 < changed < 0.5  # an ellipse of the frame, not all of it


def test_upscale_and_pixelate_helpers():
    frame = _texture(3)[None]
    soft = upscale_from_low(frame, 0.25)
    assert soft.shape == frame.shape
    lap = lambda a: cv2.Laplacian(a[0].mean(axis=2), cv2.CV_64F).var()  # noqa: E731
    assert lap(soft) < 0.5 * lap(frame)
    mask = np.zeros(frame.shape[:3], np.uint8)
    mask[0, 20:60, 30:90] = 1
    blocks = pixelate_regions(frame, mask, 8)
    far = cv2.dilate(mask[0], np.ones((27, 27), np.uint8)) == 0  # beyond a block and the growth
    assert (blocks[0][far] == frame[0][far]).all()
    inner = blocks[0, 24:56, 32:88].astype(int)
    assert (np.abs(np.diff(inner, axis=1)) > 0).mean() < 0.3  # flat blocks inside


def test_frames_are_picked_evenly_over_all_kept_frames(tmp_path):
    sources = []
    for k, kept in enumerate([[True] * 10, [False, True] * 5]):
        index = tmp_path / f"v{k}.parquet"
        pd.DataFrame({"frame": range(10), "kept": kept}).to_parquet(index)
        sources.append(FrameSource(f"v{k}", tmp_path / f"v{k}.mp4", index))
    picked = pick_frames(sources, 5)
    assert sum(len(v) for v in picked.values()) == 5
    assert set(picked["v1"]) <= {1, 3, 5, 7, 9}
    assert picked == pick_frames(sources, 5)
    assert sum(len(v) for v in pick_frames(sources, 100).values()) == 15


def _write_video(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(12))
        stream.width, stream.height, stream.pix_fmt = (
            frames[0].shape[1],
            frames[0].shape[0],
            "yuv420p",
        )
        stream.options = {"crf": "12"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained briefly on small textured videos; its weights and card."""
    root = tmp_path_factory.mktemp("quality")
    sources = []
    for k in range(3):
        frames = [_texture(100 * k + i) for i in range(12)]
        _write_video(root / f"v{k}.mp4", frames)
        pd.DataFrame({"frame": range(12), "kept": [True] * 12}).to_parquet(root / f"v{k}.parquet")
        sources.append(FrameSource(f"v{k}", root / f"v{k}.mp4", root / f"v{k}.parquet"))
    cfg = QualityConfig(enabled=True, crop=48, frames=24, val_frames=12, iterations=150, batch=16)
    card = train_classifier(sources[:2], sources[2:], cfg, 3, root / "q.pt", root / "card.json")
    return root, card


def test_training_writes_weights_and_a_card_and_learns_the_degradations(trained):
    root, card = trained
    assert read_json(root / "card.json") == card
    assert card["train_videos"] == ["v0", "v1"] and card["val_videos"] == ["v2"]
    assert card["val"]["frames"] == 12
    # each point the mean loss of the 50 steps before it
    assert [point["iteration"] for point in card["curve"]] == [50, 100, 150]
    assert card["curve"][-1]["loss"] < card["curve"][0]["loss"]
    # blur and a low source resolution are plain to see on sharp texture
    assert card["val"]["auroc_five_crops_by_kind"]["blur"] >= 0.9
    assert card["val"]["auroc_five_crops_by_kind"]["upscale"] >= 0.9
    by_combine = card["val"]["auroc_five_crops_by_combine"]
    assert set(by_combine) == {"by_kind", "min", "mean"}
    assert by_combine["mean"] == card["val"]["auroc_five_crops"]  # the default
    scorer = QualityScorer(root / "q.pt")
    five, resize = scorer.scores(_texture(999))
    assert 0.0 <= five <= 1.0 and 0.0 <= resize <= 1.0
    blurred = cv2.GaussianBlur(_texture(999), (0, 0), 2.5)
    assert scorer.scores(blurred)[0] < five


def test_crops_combine_whole_frame_damage_by_mean_and_a_region_by_its_worst_crop():
    classes = ["clean", "codec", "blur", "upscale", "mosaic"]

    def crops(*rows):
        return np.array(rows, float)

    clean = [1.0, 0, 0, 0, 0]
    one_blurred = crops(clean, clean, clean, clean, [0.2, 0, 0.8, 0, 0])
    one_pixelated = crops(clean, clean, clean, clean, [0.2, 0, 0, 0, 0.8])
    # a whole-frame kind seen in one crop of five is weak evidence; a pixelated region is not
    assert combine_crops(one_blurred, classes, "by_kind") == pytest.approx(1 - 0.8 / 5)
    assert combine_crops(one_pixelated, classes, "by_kind") == pytest.approx(0.2)
    everywhere = crops(*[[0.4, 0.3, 0.3, 0, 0]] * 5)
    assert combine_crops(everywhere, classes, "by_kind") == pytest.approx(0.4)
    assert combine_crops(one_blurred, classes, "min") == pytest.approx(0.2)
    assert combine_crops(one_blurred, classes, "mean") == pytest.approx(0.84)
    with pytest.raises(ValueError, match="median"):
        combine_crops(one_blurred, classes, "median")


def test_auroc_of_a_perfect_and_an_inverted_score():
    truth = np.array([1, 1, 0, 0, 0], bool)
    assert auroc(truth, np.array([0.9, 0.8, 0.3, 0.2, 0.1])) == 1.0
    assert auroc(truth, -np.array([0.9, 0.8, 0.3, 0.2, 0.1])) == 0.0
    assert auroc(np.ones(3, bool), np.arange(3.0)) is None


def _clip(video, no, start, end, five, resize):
    return {
        "video": video, "clip": f"{video}-{no}", "status": "kept", "frame_start": start,
        "frame_end": end,
        "analysers": {"source_quality": five, "source_quality_resize": resize},
    }  # fmt: skip


def test_clips_take_their_scenes_degradation_and_are_scored_against_it(tmp_path):
    truth = {
        "frames": 30,
        "scenes": [
            {"start": 0, "end": 10, "degraded": None},
            {"start": 10, "end": 20, "degraded": {"kind": "blur", "sigma": 2.0}},
            {"start": 20, "end": 30, "degraded": {"kind": "mosaic", "block": 8}},
        ],
    }
    write_json(tmp_path / "t.json", truth)
    clips = [
        _clip("a", 0, 0, 9, 0.9, 0.6),
        _clip("a", 1, 10, 19, 0.2, 0.7),
        _clip("a", 2, 20, 29, 0.3, 0.5),
        _clip("a", 3, 2, 8, 0.8, 0.4),
    ]
    write_json(tmp_path / "m.json", {"clips": clips})
    table = clip_truth(tmp_path / "m.json", tmp_path / "t.json", "test")
    assert table["degraded"].tolist() == ["", "blur", "mosaic", ""]
    metrics = score_against_truth(
        {"a": tmp_path / "m.json"}, {"a": tmp_path / "t.json"}, {"a": "test"}, {"val": {}}
    )
    assert metrics["test"]["auroc_five_crops"] == 1.0
    assert metrics["test"]["auroc_resize"] == 0.25
    assert metrics["test"]["degraded_clips"] == 2
    assert metrics["test"]["by_kind"]["blur"]["auroc_five_crops"] == 1.0
    assert metrics["all"] == metrics["test"] == metrics["held_out"]


def test_every_scene_of_a_quality_video_is_an_item_scored_on_frames_spread_over_it(tmp_path):
    frames = [np.full((64, 80, 3), 8 * i, np.uint8) for i in range(30)]
    _write_video(tmp_path / "q.mp4", frames)
    truth = {
        "name": "world-quality-00",
        "frames": 30,
        "scenes": [
            {"id": 0, "start": 0, "end": 12, "degraded": None},
            {"id": 1, "start": 12, "end": 20, "degraded": {"kind": "blur", "sigma": 2.0}},
            {"id": 2, "start": 20, "end": 30, "degraded": {"kind": "codec", "crf": 48}},
        ],
    }
    write_json(tmp_path / "q.json", truth)
    seen: list[int] = []

    def score(rgb: np.ndarray) -> tuple[float, float]:  # bright frames score "degraded"
        seen.append(int(rgb.mean().round()))
        return 1.0 - rgb.mean() / 255, 0.5

    table = scenes_table([tmp_path / "q.mp4"], [tmp_path / "q.json"], score)
    assert table["degraded"].tolist() == ["", "blur", "codec"]
    assert table["frames"].tolist() == [8, 8, 8]
    assert table["video"].unique().tolist() == ["world-quality-00"]
    assert scene_frames(12, 20) == list(range(12, 20)) and scene_frames(0, 3) == [0, 1, 2]
    assert scene_frames(0, 12)[0] == 0 and scene_frames(0, 12)[-1] == 11
    assert len(seen) == 24  # each picked frame scored once
    metrics = score_against_truth({}, {}, {}, {}, table)
    scenes = metrics["scenes"]
    assert scenes["scenes"] == 3 and scenes["degraded_scenes"] == 2
    assert scenes["auroc_five_crops"] == 1.0 and scenes["auroc_resize"] == 0.5
    assert scenes["by_kind"]["codec"]["scenes"] == 1
    assert score_against_truth({}, {}, {}, {})["scenes"] == {"scenes": 0}


def test_source_quality_analyser_and_its_filter():
    assert source_quality([]) == {"source_quality": None, "source_quality_resize": None}
    assert source_quality([(0.2, 0.9), (0.4, 0.7)]) == {
        "source_quality": 0.3,
        "source_quality_resize": 0.8,
    }
    filters = FiltersConfig(None, None, None, None, None, None, min_source_quality=0.5)
    assert filter_reason({"source_quality": 0.3}, filters) == "source_quality 0.3 < 0.5"
    assert filter_reason({"source_quality": 0.7}, filters) == ""
    assert filter_reason({"source_quality": None}, filters) == ""


def test_the_classifier_trains_on_train_videos_and_is_measured_on_val_videos():
    from mosaicflow.config import validate_config
    from mosaicflow.plan.run import Run
    from mosaicflow.plan.sources import SourceVideo
    from mosaicflow.plan.stages import quality

    config = {"profile": "demo"}
    validate_config(config)

    def quality_videos(videos):
        return quality.quality_videos(Run.of(config, videos))

    videos = [
        SourceVideo("a", "a.mp4", "train", "a"),
        SourceVideo("b", "b.mp4", "val", "b"),
        SourceVideo("c", "c.mp4", "test", "c"),
        SourceVideo("d", "d.mp4", "unlabelled", "d"),
    ]
    assert quality_videos(videos) == (["a"], ["b"])
    assert quality_videos(videos[:1]) == (["a"], ["a"])  # no val video: measured on train
    plain = [SourceVideo(v.id, v.path, "unlabelled", v.name) for v in videos]
    assert quality_videos(plain) == (["a", "b", "c", "d"], ["a", "b", "c", "d"])


def test_a_file_that_is_not_a_classifier_is_named(tmp_path):
    import torch

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"garbage\.pt: not a source-quality classifier"):
        QualityScorer(garbage)
    other = tmp_path / "yolo.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "epoch": 3}, other)
    with pytest.raises(ValueError, match=r"yolo.pt: .* lacks \['classes', 'combine'"):
        QualityScorer(other)
    wrong = tmp_path / "wrong.pt"
    saved = {"classes": ["blur", "clean"], "crop": 8, "width": 8, "combine": "min"}
    torch.save({**saved, "state_dict": {}}, wrong)
    with pytest.raises(ValueError, match="first class is not 'clean'"):
        QualityScorer(wrong)


def test_given_weights_score_the_clips_and_nothing_trains(tmp_path):
    from types import SimpleNamespace

    from mosaicflow.config import validate_config
    from mosaicflow.plan import paths, stages
    from mosaicflow.plan.run import Run

    def model(config):
        return stages.quality.quality_model(Run.of(config), SimpleNamespace()).get("quality")

    def config_of(**quality):
        config = {"profile": "demo", "quality": {"enabled": True, **quality}}
        validate_config(config)
        return config

    trained = config_of()
    assert model(trained) == paths.QUALITY_MODEL
    assert Run.of(trained).facts.trains_quality
    assert paths.QUALITY_CARD in stages.quality.outputs(Run.of(trained))
    weights = tmp_path / "quality.pt"
    weights.write_bytes(b"x")
    given = config_of(weights=str(weights))
    assert model(given) == str(weights)
    assert not Run.of(given).facts.trains_quality
    assert stages.quality.outputs(Run.of(given)) == [paths.QUALITY_METRICS]  # the demo scores it
    user = {**given, "source": {**given["source"], "kind": "videos"}}
    assert not stages.quality.enabled(Run.of(user))
    assert "source_quality" not in stages.metrics_files(Run.of(user))
    with pytest.raises(Exception, match=r"quality\.weights"):
        config_of(weights=str(tmp_path / "missing.pt"))
    off = {"quality": {"enabled": False, "weights": str(weights)}}
    with pytest.raises(
        Exception, match=r"'quality\.enabled': True was expected \(quality\.weights"
    ):
        validate_config(off)


def test_frames_spread_over_a_video_leave_out_its_announced_end():
    from mosaicflow.quality.survey import spread_frames

    assert spread_frames(100, 5) == [0, 24, 47, 70, 94]
    assert spread_frames(100, 5, margin=0.0) == [0, 25, 50, 74, 99]
    assert spread_frames(3, 10, margin=0.0) == [0, 1, 2]
    assert spread_frames(1, 4) == [0]


def test_the_command_scores_videos_poorest_first_and_names_unreadable_ones(trained, tmp_path):
    from mosaicflow.cli import main

    root, _ = trained
    videos = tmp_path / "videos"
    (videos / "sub").mkdir(parents=True)
    sharp = [_texture(500 + i) for i in range(12)]
    _write_video(videos / "sharp.mp4", sharp)
    blurred = [cv2.GaussianBlur(frame, (0, 0), 2.5) for frame in sharp]
    _write_video(videos / "sub" / "blurred.mkv", blurred)
    (videos / "broken.mp4").write_bytes(b"not a video")
    (videos / "notes.txt").write_text("not a video either")
    (videos / ".cache").mkdir()
    shutil.copyfile(videos / "sharp.mp4", videos / ".cache" / "hidden.mp4")  # skipped, as a source
    out = tmp_path / "out"
    (videos / "link.mp4").symlink_to(videos / "sharp.mp4")  # one file twice: scored once
    argv = ["quality", str(videos), str(videos / "sharp.mp4"), "--weights", str(root / "q.pt"),
            "--frames", "4"]  # fmt: skip
    assert main([*argv, "--out", str(out)]) == 0
    table = pd.read_parquet(out / "quality.parquet")
    assert [Path(v).name for v in table["video"]] == ["blurred.mkv", "sharp.mp4", "broken.mp4"]
    scored = table.iloc[:2]
    assert scored["frames"].tolist() == [4, 4]
    assert scored["source_quality"].iloc[0] < scored["source_quality"].iloc[1]
    assert (scored["source_quality_min"] <= scored["source_quality"]).all()
    assert scored["error"].tolist() == ["", ""]
    broken = table.iloc[2]
    assert "broken.mp4" in broken["error"] and np.isnan(broken["source_quality"])
    assert (out / "quality.tsv").read_text().splitlines()[0].startswith("video\tframes\t")
    # the scores are the workflow's own frame scores
    scorer = QualityScorer(root / "q.pt")
    assert table.iloc[1]["source_quality_resize"] == pytest.approx(
        np.mean([scorer.scores(f)[1] for f in _decoded(videos / "sharp.mp4", [0, 3, 7, 10])]),
        abs=1e-4,
    )
    # refusals: a weights file that is not there, a folder without videos, no frames
    assert main(["quality", str(videos), "--weights", str(root / "none.pt"), "--out",
                 str(out)]) == 2  # fmt: skip
    assert main(["quality", str(videos / "sub" / "none"), "--weights", str(root / "q.pt"),
                 "--out", str(out)]) == 2  # fmt: skip
    assert main([*argv[:-1], "0", "--out", str(out)]) == 2


def _decoded(video: Path, numbers: list[int]) -> list[np.ndarray]:
    from mosaicflow.video.decode import iter_frames

    return [rgb for _, rgb in iter_frames(video, numbers)]


def test_training_starts_from_given_weights_and_its_card_names_them_by_content(trained, tmp_path):
    import torch

    from mosaicflow.provenance import file_hash

    root, _ = trained
    sources = [FrameSource(f"v{k}", root / f"v{k}.mp4", root / f"v{k}.parquet") for k in range(3)]
    start = root / "q.pt"
    # one step at a vanishing learning rate: the classifier is the one it started from
    cfg = QualityConfig(
        enabled=True, crop=48, frames=24, val_frames=12, iterations=1, batch=16, lr=1e-12,
        init_weights=str(start),
    )  # fmt: skip
    card = train_classifier(
        sources[:2], sources[2:], cfg, 3, tmp_path / "q.pt", tmp_path / "c.json"
    )
    assert card["config"]["init_weights"] == {"file": "q.pt", "sha256": file_hash(start, 64)}
    before = torch.load(start, weights_only=True)["state_dict"]
    after = torch.load(tmp_path / "q.pt", weights_only=True)["state_dict"]
    for name in ("features.0.weight", "features.9.weight", "head.weight"):
        assert torch.allclose(before[name], after[name], atol=1e-6), name
    assert card["val"]["auroc_five_crops_by_kind"]["blur"] >= 0.9  # what the start learnt
    fresh = train_classifier(
        sources[:2], sources[2:], QualityConfig(enabled=True, crop=48, frames=24, val_frames=12,
        iterations=1, batch=16, lr=1e-12), 3, tmp_path / "r.pt", tmp_path / "r.json",
    )  # fmt: skip
    assert fresh["config"]["init_weights"] is None
    random = torch.load(tmp_path / "r.pt", weights_only=True)["state_dict"]
    assert not torch.allclose(before["head.weight"], random["head.weight"], atol=1e-3)


def test_start_weights_of_another_network_are_refused_with_the_file_named(tmp_path):
    import torch

    from mosaicflow.quality.model import QualityNet
    from mosaicflow.quality.train import load_start

    narrow = tmp_path / "narrow.pt"
    saved = {"classes": list(CLASSES), "crop": 48, "width": 8, "combine": "mean"}
    torch.save({**saved, "state_dict": QualityNet(len(CLASSES), 8).state_dict()}, narrow)
    with pytest.raises(ValueError, match=r"narrow\.pt: quality\.init_weights must be .* width 16"):
        load_start(QualityNet(len(CLASSES), 16), narrow)
    broken = tmp_path / "broken.pt"
    state = QualityNet(len(CLASSES), 16).state_dict()
    state.pop("head.bias")
    torch.save({**saved, "width": 16, "state_dict": state}, broken)
    with pytest.raises(ValueError, match=r"broken\.pt: quality\.init_weights does not fit"):
        load_start(QualityNet(len(CLASSES), 16), broken)
