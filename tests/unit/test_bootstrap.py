"""Bootstrap intervals of the quality figures: each figure on the full sample equals the
library's own (sklearn, pycocotools, the package's pooled PSNR), the intervals hold the figure
and narrow with more items, and the one-item sensitivities match hand-made cases."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from mosaicflow import bootstrap as bs
from mosaicflow.curate.label_issues import precision_at_recall


def ranking(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores (rounded, so with ties) that rank the positives higher on average."""
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < 0.3
    positive[:2] = True, False
    return positive, np.round(rng.normal(size=n) + 1.5 * positive, 1)


def test_resampled_counts_keep_the_sizes_and_the_seed_repeats_them():
    counts = bs.draw_counts(10, 50, np.random.default_rng(0))
    assert counts.shape == (50, 10) and (counts.sum(axis=1) == 10).all()
    strata = np.array([True] * 3 + [False] * 7)
    strat = bs.draw_counts(10, 50, np.random.default_rng(0), strata)
    assert (strat[:, :3].sum(axis=1) == 3).all() and (strat[:, 3:].sum(axis=1) == 7).all()
    again = bs.draw_counts(10, 50, np.random.default_rng(0), strata)
    assert np.array_equal(strat, again)
    with pytest.raises(ValueError, match="strata"):
        bs.draw_counts(10, 5, np.random.default_rng(0), strata[:4])


def test_proportion_interval_holds_the_share_and_narrows_with_more_items():
    rng = np.random.default_rng(3)
    small, large = rng.random(60) < 0.8, rng.random(2000) < 0.8
    a, b = bs.proportion_interval(small), bs.proportion_interval(large)
    assert a.value == small.mean() and a.items == 60 and a.one_item == 1 / 60
    assert a.low <= a.value <= a.high and b.low <= b.value <= b.high
    assert b.high - b.low < (a.high - a.low) / 3
    # about the binomial's 95 % interval (+- 1.96 standard errors)
    half = 1.96 * math.sqrt(b.value * (1 - b.value) / 2000)
    assert (b.high - b.low) / 2 == pytest.approx(half, rel=0.15)
    assert bs.proportion_interval(small) == a  # seeded: the same interval again
    assert bs.proportion_interval(small, seed=1) != a
    assert a.bounds() == [round(a.low, 4), round(a.high, 4)]
    with pytest.raises(ValueError, match="at least one"):
        bs.proportion_interval([])


def test_all_items_alike_give_a_point_interval():
    found = bs.proportion_interval(np.ones(40, bool))
    assert (found.value, found.low, found.high) == (1.0, 1.0, 1.0)
    assert found.one_item == 1 / 40  # one missed item still moves it


def test_mean_interval_takes_values_in_the_unit_range():
    values = np.linspace(0.5, 1.0, 30)
    iv = bs.mean_interval(values)
    assert iv.value == pytest.approx(values.mean()) and iv.one_item == 1 / 30
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bs.mean_interval([0.5, 1.5])


def test_auroc_and_average_precision_equal_sklearn_with_ties():
    for seed in range(4):
        positive, score = ranking(120, seed)
        auroc = bs.auroc_interval(positive, score)
        assert auroc.value == pytest.approx(roc_auc_score(positive, score), abs=1e-12)
        assert auroc.low <= auroc.value <= auroc.high
        ap = bs.average_precision_interval(positive, score)
        assert ap.value == pytest.approx(average_precision_score(positive, score), abs=1e-12)
        assert ap.low <= ap.value <= ap.high
        at = bs.precision_at_recall_interval(positive, score, 0.7)
        assert at.value == pytest.approx(precision_at_recall(score, positive, 0.7), abs=1e-12)
    narrow = bs.auroc_interval(*ranking(1200, 0))
    assert narrow.high - narrow.low < (auroc.high - auroc.low) / 2


def test_ranking_figures_need_both_classes_and_finite_scores():
    with pytest.raises(ValueError, match="both classes"):
        bs.auroc_interval([True, True], [0.1, 0.2])
    with pytest.raises(ValueError, match="nan"):
        bs.average_precision_interval([True, False], [0.1, np.nan])
    with pytest.raises(ValueError, match="labels"):
        bs.auroc_interval([True, False], [0.1])


def test_stratified_resamples_keep_three_positives_among_fifteen():
    # the source-quality test: 3 degraded clips among 15, perfectly ranked
    positive = np.array([True] * 3 + [False] * 12)
    score = np.arange(15, 0, -1, dtype=float)
    iv = bs.auroc_interval(positive, score)
    assert (iv.value, iv.low, iv.high) == (1.0, 1.0, 1.0)
    assert iv.one_item == pytest.approx(1 / 3)  # one degraded clip ranked last: 2/3


def test_ranking_one_item_is_the_worst_single_move():
    # positives at ranks 1, 2, 4 of 6: AP (1 + 1 + 3/4) / 3
    positive = np.array([True, True, False, True, False, False])
    score = np.array([6, 5, 4, 3, 2, 1], dtype=float)
    ap = average_precision_score(positive, score)
    one = bs.ranking_one_item(bs.average_precision_stat, positive, score)
    # a negative from below the last positive raised to the top: positives at ranks 2, 3, 5
    worst = average_precision_score(positive, [6, 5, 4, 3, 7, 1])
    assert worst == pytest.approx((1 / 2 + 2 / 3 + 3 / 5) / 3)
    # (the first positive dropped to the bottom moves it less: ranks 1, 3, 6)
    assert ap - average_precision_score(positive, [0, 5, 4, 3, 2, 1]) < ap - worst
    assert one == pytest.approx(ap - worst)


def test_pooled_psnr_gain_pools_squared_errors_before_the_log():
    rng = np.random.default_rng(5)
    values = rng.integers(300, 900, 80).astype(float)  # masked pixels times channels per frame
    se_in = values * rng.uniform(0.005, 0.02, 80)
    se_out = se_in * rng.uniform(0.3, 0.9, 80)
    iv = bs.psnr_gain_interval(se_out, se_in, np.append(values[:-1], 0.0))
    keep = slice(0, 79)  # the frame without masked pixels adds nothing
    pooled = 10 * math.log10(se_in[keep].sum() / se_out[keep].sum())
    assert iv.items == 79 and iv.value == pytest.approx(pooled, abs=1e-9)
    assert iv.low < iv.value < iv.high
    # leaving one frame out or counting it twice: the largest move, checked by hand
    moves = [
        10 * math.log10((se_in[keep].sum() + d * se_in[i]) / (se_out[keep].sum() + d * se_out[i]))
        for i in range(79)
        for d in (-1, 1)
    ]
    assert iv.one_item == pytest.approx(max(abs(m - pooled) for m in moves))
    with pytest.raises(ValueError, match="values"):
        bs.psnr_gain_interval([1.0], [2.0], [0.0])


def test_pooled_psnr_matches_the_restorers_metric():
    import torch

    from mosaicflow.restore.metrics import MetricSums

    rng = np.random.default_rng(2)
    sums, parts = MetricSums(), []
    for _ in range(5):
        gt = torch.from_numpy(rng.random((1, 3, 12, 12)))
        pred = (gt + torch.from_numpy(rng.normal(0, 0.05, gt.shape))).clamp(0, 1)
        mask = torch.from_numpy((rng.random((1, 1, 12, 12)) > 0.5).astype(float))
        one = MetricSums()
        one.add(pred, gt, mask)
        sums.add(pred, gt, mask)
        parts.append((one.se_mask, one.n_mask))
    se, n = (np.array(v) for v in zip(*parts, strict=True))
    assert round(float(bs.psnr(se.sum(), n.sum())), 4) == sums.result()["psnr_mask"]


def test_pooled_ratio_and_its_bounded_sensitivity():
    inter = np.array([8.0, 5.0, 0.0, 9.0])
    union = np.array([10.0, 10.0, 0.0, 10.0])  # the third item has nothing to pool
    iv = bs.ratio_interval(inter, union, bounded=True)
    assert iv.items == 3 and iv.value == pytest.approx(22 / 30)
    # the item with IoU 0.9 missed entirely (13/30) moves it most, more than leaving it out
    assert iv.one_item == pytest.approx(22 / 30 - 13 / 30)
    with pytest.raises(ValueError, match="positive denominator"):
        bs.ratio_interval([0.0], [0.0])


def test_categorical_interval_resamples_the_draws():
    counts = np.array([5000, 3000, 2000])
    target = np.array([0.5, 0.3, 0.2])

    def deviation(c: np.ndarray) -> np.ndarray:
        return np.abs(c / c.sum(axis=1, keepdims=True) - target).max(axis=1)

    iv = bs.categorical_interval(counts, deviation)
    assert iv.value == 0.0 and iv.items == 10_000 and iv.low >= 0.0
    assert iv.high == pytest.approx(1.96 * math.sqrt(0.25 / 10_000), rel=0.5)
    assert iv.one_item == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="no draws"):
        bs.categorical_interval([0, 0], deviation)


def _disc(cy: float, cx: float, r: float, size: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def coco_case(images: int, seed: int) -> tuple[list, list, list]:
    """Frames with two classes of discs: most found (a bit off), some missed, some false
    detections, scores that do not always rank the hits first."""
    from mosaicflow.yolo.scoring import _rle

    rng = np.random.default_rng(seed)
    gt_images, anns, dets = [], [], []
    for i in range(1, images + 1):
        gt_images.append({"id": i, "height": 40, "width": 40})
        for _ in range(int(rng.integers(0, 3))):
            cat = int(rng.integers(1, 3))
            cy, cx = rng.uniform(8, 32, 2)
            r = float(rng.uniform(4, 7))
            truth = _rle(_disc(cy, cx, r))
            anns.append({"image_id": i, "category_id": cat, "segmentation": truth,
                         "area": float(_disc(cy, cx, r).sum()),
                         "bbox": [cx - r, cy - r, 2 * r, 2 * r]})  # fmt: skip
            if rng.random() < 0.8:  # found, a little off
                dy, dx = rng.normal(0, 1.5, 2)
                dets.append({"image_id": i, "category_id": cat,
                             "score": float(rng.uniform(0.3, 1.0)),
                             "segmentation": _rle(_disc(cy + dy, cx + dx, r)),
                             "bbox": [cx + dx - r, cy + dy - r, 2 * r, 2 * r]})  # fmt: skip
        if rng.random() < 0.4:  # a false detection
            cy, cx = rng.uniform(8, 32, 2)
            dets.append({"image_id": i, "category_id": int(rng.integers(1, 3)),
                         "score": float(rng.uniform(0.0, 0.8)),
                         "segmentation": _rle(_disc(cy, cx, 5)),
                         "bbox": [cx - 5, cy - 5, 10.0, 10.0]})  # fmt: skip
    return gt_images, anns, dets


def evaluated(gt_images: list, anns: list, dets: list, iou_type: str):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = {
        "images": gt_images,
        "annotations": [{**a, "id": k + 1, "iscrowd": 0} for k, a in enumerate(anns)],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes([dict(d) for d in dets]), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_coco_ap50_on_the_full_sample_is_cocoevals_own(iou_type):
    ev = evaluated(*coco_case(40, seed=7), iou_type)
    classes = bs.coco_classes(ev)
    assert len(classes) == 2 and all(c.true.any() and (~c.true).any() for c in classes)
    iv, per_class = bs.coco_ap50_intervals(classes, ev.params.recThrs)
    assert 0.3 < ev.stats[1] < 1.0
    assert iv.value == pytest.approx(ev.stats[1], abs=1e-12)
    assert iv.items == 40 and iv.low <= iv.value <= iv.high
    for k, one in enumerate(per_class):
        p = ev.eval["precision"][0, :, k, 0, -1]
        assert one.value == pytest.approx(p.mean(), abs=1e-12)
        assert one.low <= one.value <= one.high and one.one_item >= iv.one_item
    with pytest.raises(ValueError, match=r"IoU 0\.33"):
        bs.coco_classes(ev, 0.33)


def test_coco_ap50_interval_narrows_with_more_images():
    small = bs.coco_ap50_interval(bs.coco_classes(evaluated(*coco_case(30, 1), "bbox")))
    large = bs.coco_ap50_interval(bs.coco_classes(evaluated(*coco_case(300, 1), "bbox")))
    assert small.low <= small.value <= small.high and large.low <= large.value <= large.high
    assert large.high - large.low < (small.high - small.low) / 2
    assert large.one_item < small.one_item


def test_coco_one_item_counts_a_miss_and_an_extra_false_positive():
    # one class, two images, one truth each, both found: AP 1
    hit = bs.CocoClass(np.array([0, 1]), np.array([True, True]), np.array([1.0, 1.0]))
    # a miss gives recall 0.5 (precision 1 up to it: 51 of 101 points); an extra false
    # detection above both gives precision 2/3 everywhere; leaving an image out keeps AP 1
    assert bs.coco_one_item([hit]) == pytest.approx(1 - 51 / 101)
    assert bs.coco_ap50_interval([hit]).value == 1.0
    # a class without ground truth does not count in the mean
    empty = bs.CocoClass(np.array([1]), np.array([False]), np.array([0.0, 0.0]))
    assert bs.coco_ap50_interval([hit, empty]).value == 1.0
    assert bs.coco_one_item([empty]) == 0.0


def test_a_figure_undefined_in_every_resample_has_no_interval():
    value, low, high = bs.bootstrap(lambda w: np.full(len(w), np.nan), 5)
    assert math.isnan(value) and low is None and high is None
    with pytest.raises(ValueError, match="level"):
        bs.bootstrap(lambda w: w.sum(axis=1), 5, level=1.5)
