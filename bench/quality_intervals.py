"""Benchmark: every floor of the demo's quality tests against the bootstrap interval of its
figure over the test items, and against how far one item can move the figure (issue 58).

Usage: ``python bench/quality_intervals.py [RESULTS] [--skip-slow] [--device cpu]`` with
RESULTS a finished demo run's results folder (default ``.test-work/demo/results``). For each
floor (or ceiling) of tests/workflow/test_*_quality.py and test_user_test_videos.py, imported
from the test modules, it prints and records (``quality_intervals`` in results/bench.json) the
figure, the items it is measured on, its 95 % bootstrap interval over them
(:mod:`mosaicflow.bootstrap`), its one-item sensitivity, and whether

(a) the floor lies below the interval's low end (a ceiling above its high end), and
(b) the one-item sensitivity is at most a quarter of the distance from the floor to the figure,

and a markdown table for docs/benchmarks.md. Each figure's per-item data comes from the
results where they hold it (stored ``<figure>_ci95`` siblings, the counts of a proportion, the
clip manifests, the ranked tables); otherwise the script recomputes it with the package's own
functions from the saved models and truth (the ``source`` column says which: ``stored``,
``results``, ``scored`` = recomputed from saved outputs without a model, ``model`` = the saved
model run again). ``--skip-slow`` leaves out the figures whose tests build material of their
own (FFmpeg-pixelated video, re-uploads, a user run's inferred truth) and the model reruns.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests, for their floors

from benchlib import record

from mosaicflow import bootstrap as bs
from mosaicflow.plan import paths, stages
from mosaicflow.plan.run import Run as PlanRun
from tests.workflow import (
    test_balance_quality,
    test_detector_quality,
    test_duplicates_quality,
    test_evaluation_quality,
    test_label_issues_quality,
    test_regions_quality,
    test_restoration_quality,
    test_review_quality,
    test_source_quality,
    test_user_test_videos,
)


@dataclass
class Row:
    """One floor of a quality test against its figure's interval."""

    figure: str
    test: str
    constant: str
    bound: float
    ceiling: bool
    value: float | None = None
    items: int | None = None
    low: float | None = None
    high: float | None = None
    one_item: float | None = None
    source: str = ""
    note: str = ""

    @property
    def clear(self) -> bool | None:
        """(a): the floor below the interval's low end (a ceiling above its high end)."""
        if self.low is None or self.high is None:
            return None
        return self.high < self.bound if self.ceiling else self.bound < self.low

    @property
    def margin(self) -> bool | None:
        """(b): one item moves the figure by at most a quarter of its distance to the bound."""
        if self.value is None or self.one_item is None:
            return None
        room = (self.bound - self.value) if self.ceiling else (self.value - self.bound)
        return bool(self.one_item <= room / 4)


@dataclass
class Run:
    """A finished demo run: its results, the demo config and the videos the workflow saw."""

    results: Path
    config: dict[str, Any]
    specs: list[Any]
    videos: dict[str, Any]
    device: str
    work: Path
    plan: PlanRun

    def json(self, *parts: str) -> Any:
        return json.loads(self.results.joinpath(*parts).read_text())


def demo_run(results: Path, device: str, work: Path) -> Run:
    """The demo config (config/config.yaml, validated as the workflow does) and its videos."""
    config = test_balance_quality.demo_config()
    plan = PlanRun.from_config(config)
    return Run(results, config, list(plan.specs), dict(plan.videos), device, work, plan)


def stale_world(run: Run) -> list[str]:
    """The config's world videos whose truth in the results is missing or of another role: the
    results are of another config (the demo run not brought up to date)."""
    stale = []
    for spec in run.specs:
        truth = run.results / "world" / "truth" / f"{spec.name}.json"
        if not truth.is_file() or json.loads(truth.read_text()).get("role") != spec.role:
            stale.append(spec.name)
    return stale


def fill(row: Row, interval: bs.Interval, source: str, note: str = "") -> Row:
    """``row`` with the figure, items, interval and sensitivity of ``interval``."""
    row.value, row.items, row.one_item = interval.value, interval.items, interval.one_item
    row.low, row.high = interval.low, interval.high
    row.source, row.note = source, note
    return row


def counted(share: float, n: int) -> bs.Interval:
    """The interval of a proportion stored as its value and item count (``k / n`` rounded)."""
    k = round(share * n)
    if abs(k / n - share) > 1e-4:
        raise ValueError(f"{share} is not a share of {n} items")
    return bs.proportion_interval(np.arange(n) < k)


def stored(value: float, ci95: list[float] | None, items: int, one_item: float) -> bs.Interval:
    """An interval the workflow wrote beside its figure (``<figure>_ci95``)."""
    low, high = ci95 if ci95 is not None else (None, None)
    return bs.Interval(value, low, high, items, one_item)


def row_for(module: Any, constant: str, figure: str, ceiling: bool = False) -> Row:
    """A row for ``module.constant``, the bound read from the test module itself."""
    return Row(
        figure, module.__name__.rsplit(".", 1)[-1], constant, getattr(module, constant), ceiling
    )


def offline(run: Run) -> None:
    """Import ultralytics offline with its config in the bench's scratch folder."""
    from mosaicflow.yolo.adapter import prepare_ultralytics

    prepare_ultralytics(run.work / "yolo_config", threads=2)


def yolo_test(run: Run, name: str, conf: float | None = None) -> dict[str, Any]:
    """Model ``name``'s test figures, recomputed as rule evaluate_model computes them."""
    import dataclasses

    from mosaicflow.devices import ultralytics_device
    from mosaicflow.yolo.models import model_kind, test_job
    from mosaicflow.yolo.scoring import truth_items

    params = test_job(name, run.config)
    if conf is not None:
        params = dataclasses.replace(params, conf=conf)
    flat = stages.yolo.test_items(run.plan, name)
    weights = Path(paths.model_files(name)["weights"])
    offline(run)
    return model_kind(name).test(weights, truth_items(flat), params, ultralytics_device(run.device))


def coco_rows(
    run: Run, name: str, test: dict[str, Any], keys: list[tuple[Row, str]], slow: bool
) -> list[Row]:
    """AP50 rows of a YOLO model: the stored intervals, else the model run again."""
    source, scores = "stored", test
    if any(f"{key}_ci95" not in test for _, key in keys):
        if not slow:
            return [skip(row, "its AP50 interval needs the model run again") for row, _ in keys]
        scores, source = yolo_test(run, name, test.get("conf")), "model"
    out = []
    for row, key in keys:
        interval = stored(
            scores[key], scores[f"{key}_ci95"], scores["frames"], scores[f"{key}_one_item"]
        )
        out.append(fill(row, interval, source, f"test frames; stored {key} {test[key]}"))
    return out


def skip(row: Row, why: str) -> Row:
    row.source, row.note = "skipped", why
    return row


def detector(run: Run, slow: bool) -> list[Row]:
    m = test_detector_quality
    metrics = run.json("metrics", "detector.json")
    test = metrics["test"]
    rows = coco_rows(
        run,
        "detector",
        test,
        [(row_for(m, "MASK_MAP50_FLOOR", "detector test mask mAP50"), "mask_map50")],
        slow,
    )
    for constant, figure, key, frames, ceiling in (
        (
            "FRAME_RECALL_FLOOR",
            "detector frame recall",
            "frame_recall",
            "frames_with_mosaic",
            False,
        ),
        (
            "NEGATIVE_FP_RATE_CEILING",
            "detector FP rate, every frame without a mosaic (either copy)",
            "negative_frame_fp_rate",
            "negative_frames",
            True,
        ),
        (
            "FRAME_FP_RATE_CEILING",
            "detector frame FP rate, mosaic-free frames of the mosaicked videos",
            "frame_fp_rate",
            "frames_without_mosaic",
            True,
        ),
        (
            "CLEAN_FP_RATE_CEILING",
            "detector FP rate, clean frames",
            "clean_frame_fp_rate",
            "clean_frames",
            True,
        ),
    ):
        row = row_for(m, constant, figure, ceiling)
        rows.append(fill(row, counted(test[key], test[frames]), "results", f"{frames}"))
    rows.append(
        ffmpeg_recall(run, row_for(m, "FFMPEG_RECALL_FLOOR", "detector, FFmpeg mosaic"), slow)
    )
    return rows


def ffmpeg_recall(run: Run, row: Row, slow: bool) -> Row:
    """The FFmpeg-pixelated test video of test_detector_finds_mosaics_pixelated_by_ffmpeg."""
    if not slow:
        return skip(row, "needs the FFmpeg video and a detector run")
    from mosaicflow.yolo.detect import detect_mosaics
    from mosaicflow.yolo.infer import decode_rle

    # the test's box and block (literals of its body)
    box, block = (96, 48, 128, 96), 12
    video = run.work / "ffmpeg_pixelated.mp4"
    source = run.results / "world" / "videos" / "world-test-01.mp4"
    frames = test_detector_quality._ffmpeg_pixelated(source, video, box, block=block)
    offline(run)
    result = detect_mosaics(
        Path(paths.model_files("detector")["weights"]),
        video,
        run.work / "ffmpeg_out",
        imgsz=256,
        threads=2,
    )
    table = pd.read_parquet(run.work / "ffmpeg_out" / "mosaics.parquet")
    x, y, w, h = box
    hits = set()
    for r in table[table["instance"] >= 0].itertuples():
        mask = decode_rle(r.rle, result.height, result.width)
        if mask[y : y + h, x : x + w].mean() > 0.5 and np.count_nonzero(mask) < 2 * w * h:
            hits.add(r.frame)
    flags = np.isin(np.arange(frames), sorted(hits))
    return fill(row, bs.proportion_interval(flags), "model", "frames of the FFmpeg video")


def source_quality(run: Run) -> list[Row]:
    """The scenes of the world's quality videos (rule score_quality_scenes)."""
    m = test_source_quality
    scenes = pd.read_parquet(run.results / "evaluate" / "source_quality_scenes.parquet")
    metrics = run.json("metrics", "source_quality.json")["scenes"]
    degraded = (scenes["degraded"] != "").to_numpy()
    five = -scenes["source_quality"].to_numpy()
    resize = -scenes["source_quality_resize"].to_numpy()
    stored = metrics["auroc_five_crops"]
    check = f"{len(scenes)} scenes, {int(degraded.sum())} degraded; stored {stored}"
    rows = [
        fill(
            row_for(m, "SCENES_AUROC", "source quality AUROC, quality-video scenes"),
            bs.auroc_interval(degraded, five),
            "results",
            check,
        )
    ]
    value, low, high = bs.bootstrap(
        difference(bs.auroc_stat(degraded, five), bs.auroc_stat(degraded, resize)),
        len(scenes),
        strata=degraded,
    )
    # one scene misplaced in one of the two rankings
    one = max(1 / degraded.sum(), 1 / (~degraded).sum())
    gap = bs.Interval(value, low, high, len(scenes), one)
    rows.append(
        fill(
            row_for(m, "CROPS_OVER_RESIZE", "five crops - resize AUROC, scenes"),
            gap,
            "results",
            "paired over the scenes",
        )
    )
    card = run.json("models", "quality", "card.json")["val"]
    frames = int(card["frames"])  # each scored clean and once per degradation
    low, high = card["auroc_five_crops_ci95"]
    degraded_frames = frames * (len(card["crop_accuracy"]) - 1)
    one_frame = max(1 / frames, 1 / degraded_frames)
    rows.append(
        fill(
            row_for(m, "CARD_AUROC", "source quality card AUROC, held-out frames"),
            bs.Interval(card["auroc_five_crops"], low, high, frames + degraded_frames, one_frame),
            "stored",
            f"{frames} frames, clean and degraded",
        )
    )
    return rows


def difference(a: bs.Stat, b: bs.Stat) -> bs.Stat:
    """The statistic ``a - b`` on the same resamples (a paired difference)."""
    return lambda w: a(w) - b(w)


def evaluation(run: Run, slow: bool) -> list[Row]:
    m = test_evaluation_quality
    total = run.json("metrics", "evaluate.json")["total"]
    detection = total["detection"]
    rows = [
        fill(
            row_for(m, "DETECTOR_RECALL_FLOOR", "restore run's detector frame recall"),
            counted(detection["frame_recall"], detection["frames_with_mosaic"]),
            "results",
            "frames with a mosaic",
        )
    ]
    gain = total.get("psnr_mask_gain")
    source = "stored"
    if gain is None:
        if not slow:
            return rows + [
                skip(row_for(m, c, f), "needs the restored videos scored again")
                for c, f in (
                    ("RESTORED_OVER_INPUT_DB", "PSNR in mask, restored - input"),
                    ("RESTORED_OVER_BLUR_DB", "PSNR in mask, restored - blur"),
                )
            ]
        gain, source = rescored_gains(run, float(total["blur"]["sigma"])), "scored"
    for constant, figure, key, baseline in (
        ("RESTORED_OVER_INPUT_DB", "PSNR in mask, restored - input", "over_input", "input"),
        ("RESTORED_OVER_BLUR_DB", "PSNR in mask, restored - blur", "over_blur", "blur"),
    ):
        figure_now = total["restored"]["psnr_mask"] - total[baseline]["psnr_mask"]
        iv = stored(gain[key], gain[f"{key}_ci95"], gain["frames"], gain[f"{key}_one_item"])
        note = f"frames with mask pixels; the stored figures give {figure_now:.4f}"
        rows.append(fill(row_for(m, constant, figure), iv, source, note))
    return rows


def rescored_gains(run: Run, sigma: float) -> dict[str, Any]:
    """The evaluation's PSNR gains, the restored test videos scored again."""
    from mosaicflow.evaluation.scores import score_video

    items = stages.evaluation.evaluation_items(run.plan.evaluated())
    total = None
    for original, mosaic, truth, restored, masks in zip(
        items["originals"],
        items["mosaics"],
        items["truths"],
        items["restored"],
        items["masks"],
        strict=True,
    ):
        scorer = score_video(
            Path(original),
            Path(mosaic),
            Path(restored),
            Path(truth),
            pd.read_parquet(masks),
            [sigma],
        ).scorer
        total = scorer if total is None else total.merged(scorer)
    if total is None:
        raise ValueError("no evaluated video")
    return total.gains(sigma)


def regions(run: Run, slow: bool) -> list[Row]:
    m = test_regions_quality
    seg = run.json("models", "region_seg", "model.json")["metrics"]["test"]
    wm = run.json("models", "watermark", "model.json")["metrics"]["test"]
    return [
        *coco_rows(
            run,
            "region_seg",
            seg,
            [(row_for(m, "REGION_MASK_MAP50_FLOOR", "region segmenter mask mAP50"), "mask_map50")],
            slow,
        ),
        *coco_rows(
            run,
            "watermark",
            wm,
            [(row_for(m, "WATERMARK_MAP50_FLOOR", "watermark box mAP50"), "box_map50")],
            slow,
        ),
    ]


def restoration(run: Run) -> list[Row]:
    m = test_restoration_quality
    scores = run.json("metrics", "restoration_dataset.json")
    rows = [
        fill(
            row_for(m, "CONTAINED_SHARE_FLOOR", "clip crops containing the region"),
            counted(scores["contained_share"], scores["frames"]),
            "results",
            "clip frames",
        )
    ]
    row = row_for(m, "CLIP_MASK_IOU_FLOOR", "clip mask IoU")
    if "clip_mask_iou_ci95" in scores:
        iv = stored(
            scores["clip_mask_iou"],
            scores["clip_mask_iou_ci95"],
            scores["frames"],
            1 / scores["frames"],
        )
        rows.append(fill(row, iv, "stored", "clip frames"))
    else:
        rows.append(
            fill(
                row, clip_mask_ious(run), "scored", f"clip frames; stored {scores['clip_mask_iou']}"
            )
        )
    return rows


def clip_mask_ious(run: Run) -> bs.Interval:
    """The clip-mask IoU of every clip frame, the clips scored again."""
    from mosaicflow.datasets.clips import evaluate as clip_eval
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.datasets.clips.jobs import scored_videos, truth_regions
    from mosaicflow.datasets.clips.media import read_video
    from mosaicflow.datasets.clips.meta import read_clip_meta
    from mosaicflow.formats.truth import read_truth

    ids = stages.restoration.test_video_ids(run.plan)
    by_truth = run.config["restoration_dataset"]["regions"] == "truth"
    videos = scored_videos(
        ids,
        stages.world.world_items(run.specs, ["test"]),
        [paths.frames_files(v)["index"] for v in ids],
        [] if by_truth else [paths.region_files(v)["regions"] for v in ids],
    )
    index = read_index(Path(paths.RESTORATION_INDEX))
    root = Path(paths.RESTORATION_INDEX).parent
    values: list[float] = []
    for v in videos:
        regions = v.regions or truth_regions(v.truth_mkv, v.video, run.work / f"{v.video_id}.pq")
        ids_ = np.stack([frame for _, frame in read_truth(v.truth_mkv)])
        table = pd.read_parquet(regions)
        rows = index[(index["video"] == v.video_id) & index["kept"].astype(bool)]
        for clip in rows.itertuples(index=False):
            scored = clip_eval.score_clip(
                read_clip_meta(root / clip.meta_path),
                read_video(root / clip.mask_path, fmt="gray"),
                ids_,
                table,
            )
            values += scored["clip_iou"]
    return bs.mean_interval(values)


def review(run: Run) -> list[Row]:
    from mosaicflow.config import build
    from mosaicflow.curate.clip_ranking import (
        average_precision,
        rank_clips,
        review_round_scores,
        truth_verdicts,
    )
    from mosaicflow.curate.clip_signals import read_signals
    from mosaicflow.curate.config import ReviewConfig
    from mosaicflow.curate.duplicates import read_groups

    m = test_review_quality
    metrics = run.json("metrics", "review.json")
    config = build(ReviewConfig, run.config["review"])
    seed = run.config["seed"]
    table = read_signals([paths.review_signals(v) for v in run.videos])
    duplicates = Path(paths.DUPLICATES) if run.config["duplicates"]["enabled"] else None
    _, dropped = read_groups(duplicates)
    table = table[~table["video"].isin(list(dropped))].reset_index(drop=True)
    judged = table[table["truth_false"].notna()].reset_index(drop=True)
    truth = judged["truth_false"].to_numpy() > 0.5
    rounds = list(review_round_scores(judged, metrics["top_k"], 2, config, seed=seed))
    stored_aps = [r["average_precision"] for r in metrics["review_rounds"]]
    check = f"{len(judged)} clips, {int(truth.sum())} false; rounds {stored_aps}"
    (_, s0), (_, s1), (_, s2) = rounds
    ap0, ap1 = bs.average_precision_stat(truth, s0), bs.average_precision_stat(truth, s1)

    def closed(w: np.ndarray) -> np.ndarray:
        base = ap0(w)
        return (ap1(w) - base) / (1.0 - base)

    value, low, high = bs.bootstrap(closed, len(truth), strata=truth)
    base = average_precision(truth, s0)
    one = bs.ranking_one_item(bs.average_precision_stat, truth, s1) / (1 - base)
    rows = [
        fill(
            row_for(m, "ROUND1_GAP_CLOSED", "review round 1, gap closed"),
            bs.Interval(value, low, high, len(truth), one),
            "scored",
            check + " (sensitivity: one clip in round 1's ranking)",
        ),
        fill(
            row_for(m, "ROUND2_FLOOR", "review round 2 AP"),
            bs.average_precision_interval(truth, s2),
            "scored",
            check,
        ),
    ]
    every = truth_verdicts(judged["clip"].astype(str).to_numpy(), truth)
    full, _ = rank_clips(judged, every, config, seed=seed)
    rows.append(
        fill(
            row_for(m, "EVERY_VERDICT_FLOOR", "review AP, every verdict"),
            bs.average_precision_interval(
                full["truth_false"].to_numpy() > 0.5, full["likely_false"].to_numpy()
            ),
            "scored",
            f"stored {metrics['average_precision_every_verdict']}",
        )
    )
    ranked = pd.read_parquet(run.results / "review" / "ranked.parquet")
    motion = ranked["motion_residual"].astype(float)
    alone = -motion.fillna(motion.median()).to_numpy()
    rows.append(
        fill(
            row_for(m, "MOTION_ALONE_FLOOR", "review AP, rigid motion alone"),
            bs.average_precision_interval(ranked["truth_false"].to_numpy() > 0.5, alone),
            "results",
            "ranked clips",
        )
    )
    return rows


def label_issues(run: Run) -> list[Row]:
    m = test_label_issues_quality
    table = pd.read_parquet(run.results / "review" / "label_issues.parquet")
    errors = run.json("world", "labelme", "train-errors.json")["errors"]
    images = {str(e["image"]) for e in errors}
    truth = table["image"].map(lambda name: name in images).to_numpy(bool)
    flagged = table["issue"].to_numpy(bool)
    doubt = 1.0 - table["quality"].to_numpy(float)
    return [
        fill(
            row_for(m, "MIN_PRECISION", f"label issues, precision at recall {m.MIN_RECALL}"),
            bs.precision_at_recall_interval(truth, doubt, m.MIN_RECALL),
            "results",
            f"{len(table)} frames, {int(truth.sum())} with an error",
        ),
        fill(
            row_for(m, "THRESHOLD_RECALL", "label issues, recall at the threshold"),
            bs.proportion_interval(flagged[truth]),
            "results",
            "frames with an error",
        ),
        fill(
            row_for(m, "THRESHOLD_PRECISION", "label issues, precision at the threshold"),
            bs.proportion_interval(truth[flagged]),
            "results",
            "flagged frames",
        ),
    ]


def made_reuploads(run: Run, slow: bool) -> list[Row]:
    """test_reuploads_are_found_among_the_demo_videos: its re-uploads made again (the world's
    own four are checked exactly and have no row)."""
    from mosaicflow.curate.config import DuplicatesConfig
    from mosaicflow.curate.duplicates import find_duplicates

    m = test_duplicates_quality
    rows = [
        row_for(m, "RECALL", "test re-uploads, source-copy pair recall"),
        row_for(m, "PRECISION", "test re-uploads, pair precision"),
        row_for(m, "DROPPED", "test re-uploads, dropped share"),
    ]
    if not slow:
        return [skip(r, "needs the test's re-uploads encoded again") for r in rows]
    every = {p.parent.name: p.parent for p in (run.results / "frames").glob("*/index.parquet")}
    copies = m.world_copies(run.results)
    own = {video: folder for video, folder in every.items() if video not in copies}
    made = m.make_reuploads(run.results, sorted(own), run.work)
    source_of = {copy: copy.split("-reupload-of-")[1] for copy in made} | {v: v for v in own}
    pairs, groups = find_duplicates(own | made, DuplicatesConfig())
    found, right, dropped = m.judge_reuploads(source_of, made, pairs, groups)
    note = f"{len(made)} re-uploads of {len(own)} videos"
    fill(rows[0], bs.proportion_interval(found), "scored", note)
    if right:
        fill(rows[1], bs.proportion_interval(right), "scored", "pairs found")
    else:
        skip(rows[1], "no pair found")
    fill(rows[2], bs.proportion_interval(dropped), "scored", note)
    return rows


def level_matrix(buckets: list[str]) -> tuple[np.ndarray, list[str]]:
    """A 0/1 matrix summing the leaf buckets into every bucket of every depth of the tree."""
    from mosaicflow.datasets.balance.tree import SEP

    nodes: list[str] = []
    rows = []
    depth = max(b.count(SEP) for b in buckets) + 1
    for d in range(1, depth + 1):
        prefixes = [SEP.join(b.split(SEP)[:d]) for b in buckets]
        for node in sorted(set(prefixes)):
            nodes.append(node)
            rows.append([p == node for p in prefixes])
    return np.array(rows, dtype=np.float64), nodes


def share_deviation(leaves: pd.Series, drawn: np.ndarray) -> bs.Interval:
    """Largest |drawn share - target| over the buckets of every depth, draws resampled.

    Args:
        leaves: leaf bucket -> its target probability.
        drawn: per draw, the position of its leaf in ``leaves``.
    """
    tree, _ = level_matrix(list(leaves.index))
    target = tree @ leaves.to_numpy(np.float64)
    counts = np.bincount(drawn, minlength=len(leaves))

    def deviation(c: np.ndarray) -> np.ndarray:
        shares = (c @ tree.T) / c.sum(axis=1, keepdims=True)
        return np.abs(shares - target).max(axis=1)

    return bs.categorical_interval(counts, deviation)


def balance(run: Run) -> list[Row]:
    from mosaicflow.config import build
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.datasets.clips.torch_dataset import MosaicClipDataset
    from mosaicflow.mosaic.config import MosaicConfig
    from mosaicflow.restore.jobs import clip_weights
    from mosaicflow.restore.sampling import WeightedIterationBatchSampler

    m = test_balance_quality
    weights = pd.read_parquet(run.results / "balance" / "detection" / "weights.parquet")
    leaves = weights.groupby("bucket")["bucket_probability"].first()
    position = {b: i for i, b in enumerate(leaves.index)}
    entries = np.repeat(
        weights["bucket"].map(position).to_numpy(), weights["multiplier"].to_numpy()
    )
    rows = [
        fill(
            row_for(m, "SHARE_TOLERANCE", "detector list, bucket share off target", True),
            share_deviation(leaves, entries),
            "results",
            "entries of the repeated list",
        )
    ]
    # the restoration sampler as test_restoration_sampler_draws_each_bucket_at_its_target
    # draws it
    config = run.config
    index_path = run.results / "restoration_dataset" / "index.parquet"
    train = MosaicClipDataset(
        read_index(index_path),
        index_path.parent,
        num_frames=5,
        size=64,
        mosaic_cfg=build(MosaicConfig, config["mosaic"]),
        seed=0,
        train=True,
        split="train",
    )
    path = run.results / "balance" / "clips" / "weights.parquet"
    table = pd.read_parquet(path).set_index("clip").loc[list(train.rows["clip"])].reset_index()
    sampler = WeightedIterationBatchSampler(
        clip_weights(train, path), 4, config["seed"], 0, m.DRAWS // 4
    )
    drawn = np.array([i for batch in sampler for i in batch])
    leaves = table.groupby("bucket")["bucket_probability"].first()
    position = {b: i for i, b in enumerate(leaves.index)}
    by_test = max(
        (level["drawn"] - level["target"]).abs().max() for level in m.shares_by_level(table, drawn)
    )
    rows.append(
        fill(
            row_for(m, "SHARE_TOLERANCE", "clip sampler, bucket share off target", True),
            share_deviation(leaves, table["bucket"].map(position).to_numpy()[drawn]),
            "scored",
            f"draws of the sampler; the test's own figure {by_test:.4f}",
        )
    )
    return rows


def user_truth(run: Run, slow: bool) -> list[Row]:
    """test_the_inferred_truth_follows_the_real_one: the test video's truth inferred again."""
    from mosaicflow.config import build
    from mosaicflow.formats.truth import read_truth
    from mosaicflow.yolo.config import RegionsInferConfig
    from mosaicflow.yolo.inferred_truth import infer_test_truth

    m = test_user_test_videos
    row = row_for(m, "TRUTH_IOU_FLOOR", "user test video, inferred truth IoU")
    if not slow:
        return [skip(row, "needs the segmenter run on the test video")]
    name = next(n for n, role in m.SHEET.items() if role == "test")
    cfg = build(
        RegionsInferConfig,
        {k: run.config["regions"][k] for k in RegionsInferConfig.__dataclass_fields__},
    )
    out = run.work / "user_truth"
    infer_test_truth(
        Path(paths.model_files("region_seg")["weights"]),
        Path(paths.world_files(name)["video"]),
        out.with_suffix(".mkv"),
        out.with_suffix(".json"),
        cfg=cfg,
        device=run.device,
        threads=2,
        video_id="user-test",
        name=f"{name}.mp4",
        config_dir=run.work / "yolo_config",
    )
    inter, union = [], []
    for (_, mine), (_, theirs) in zip(
        read_truth(out.with_suffix(".mkv")),
        read_truth(Path(paths.world_files(name)["truth"])),
        strict=True,
    ):
        inter.append(int(((mine > 0) & (theirs > 0)).sum()))
        union.append(int(((mine > 0) | (theirs > 0)).sum()))
    iv = bs.ratio_interval(inter, union, bounded=True)
    return [fill(row, iv, "model", "frames with a true or inferred region; pooled IoU")]


GROUPS: tuple[tuple[str, Callable[[Run, bool], list[Row]]], ...] = (
    ("detector", detector),
    ("source quality", lambda run, slow: source_quality(run)),
    ("evaluation", evaluation),
    ("regions", regions),
    ("restoration", lambda run, slow: restoration(run)),
    ("review", lambda run, slow: review(run)),
    ("label issues", lambda run, slow: label_issues(run)),
    ("duplicates", made_reuploads),
    ("balance", lambda run, slow: balance(run)),
    ("user test videos", user_truth),
)


def number(x: float | None, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def verdict(flag: bool | None) -> str:
    return "–" if flag is None else ("yes" if flag else "**no**")


def markdown(rows: list[Row]) -> str:
    """The rows as a markdown table for docs/benchmarks.md."""
    head = (
        "| figure | test :: constant | value | items | 95 % interval | bound | one item "
        "| (a) clear | (b) margin | source |"
    )
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        bound = ("≤ " if r.ceiling else "≥ ") + f"{r.bound:g}"
        interval = "–" if r.low is None else f"[{number(r.low)}, {number(r.high)}]"
        lines.append(
            f"| {r.figure} | {r.test} :: {r.constant} | {number(r.value)} | {r.items or '–'} | "
            f"{interval} | {bound} | {number(r.one_item)} | {verdict(r.clear)} | "
            f"{verdict(r.margin)} | {r.source} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=Path(".test-work/demo/results"))
    parser.add_argument(
        "--skip-slow",
        action="store_true",
        help="leave out the figures that need a model run or test material",
    )
    parser.add_argument("--device", default="cpu", help="device of the model reruns")
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"))
    args = parser.parse_args(argv)
    results, out = args.results.resolve(), args.out.resolve()
    if results.name != paths.RESULTS or not (results / "metrics.json").is_file():
        parser.error(f"{results} is not a finished run's results folder (no metrics.json)")
    rows: list[Row] = []
    failed = []
    with tempfile.TemporaryDirectory(prefix="quality_intervals_") as scratch:
        run = demo_run(results, args.device, Path(scratch))
        stale = stale_world(run)
        if stale:
            parser.error(
                f"{results} holds no truth of the config's world videos {stale[:4]}: bring the "
                "demo run up to date with the config first"
            )
        os.chdir(results.parent)  # the workflow's paths are relative to its folder
        for name, group in GROUPS:
            try:
                rows += group(run, not args.skip_slow)
            except Exception:
                traceback.print_exc()
                failed.append(name)
    table = markdown(rows)
    print(table)
    for r in rows:
        if r.note:
            print(f"- {r.figure}: {r.note}")
    not_clear = [f"{r.test}::{r.constant}" for r in rows if r.clear is False]
    no_margin = [f"{r.test}::{r.constant}" for r in rows if r.margin is False]
    record(
        "quality_intervals",
        {
            "results": str(results),
            "rows": [{**asdict(r), "clear": r.clear, "margin": r.margin} for r in rows],
            "not_clear": not_clear,
            "no_margin": no_margin,
            "failed_groups": failed,
            "verdict": "PASS" if not (not_clear or no_margin or failed) else "FAIL",
        },
        out,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
