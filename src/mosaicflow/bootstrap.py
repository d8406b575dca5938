"""Bootstrap intervals of the quality figures over their test items, and how far one item can
move a figure.

A figure is a statistic of per-item data (frames, clips, images). Each statistic here is written
for per-item *weights*: the full sample weighs every item 1, a bootstrap resample weighs every
item by the number of times it was drawn (``n`` items drawn with replacement from ``n``). A
resampled figure is the figure computed with those weights, which is what recomputing it on the
list of drawn items gives, without building that list. The ranking measures resample each class
on its own (stratified), so every resample keeps both classes at their sizes.

Intervals are percentile intervals: :data:`RESAMPLES` resamples drawn with
``numpy.random.default_rng(seed)``, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles
of the resampled figures (resamples where the figure is undefined, e.g. without a ground-truth
instance, are left out).

The one-item sensitivity (:attr:`Interval.one_item`) is the most one misordered, missed or
extra item can move the figure:

- a proportion over ``n`` items, or a mean of values in [0, 1]: ``1 / n`` (one item flipped);
- AUROC: ``max(1 / n_pos, 1 / n_neg)``, one item moved from one end of the ranking to the other
  (one misordered pair moves it by ``1 / (n_pos n_neg)``);
- average precision and precision at a recall: the largest change, computed on the data, when
  one positive drops to the bottom of the ranking, one negative rises to the top, or one
  negative is added above every score;
- a pooled ratio (PSNR gain, pooled IoU): the largest change when one item is left out or
  counted twice, and for a ratio bounded like an IoU, when one item's part moves to either end;
- COCO AP50: the largest change of the mean over classes when one image is left out, one true
  positive becomes a miss, or one false positive is added above every score.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Resamples per interval.
RESAMPLES = 2000
#: Coverage of the intervals.
LEVEL = 0.95
#: Seed of the resampling: the same data give the same interval.
SEED = 0
#: Weights held in memory at once (rows of resamples times items), to bound memory.
_CHUNK_CELLS = 2_000_000
#: COCO's recall points (0, 0.01, ..., 1), as ``COCOeval.params.recThrs``.
COCO_RECALLS = np.linspace(0.0, 1.0, 101)

#: A statistic: ``(rows, items)`` weights -> ``(rows,)`` figures (nan where undefined).
Stat = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A figure on the full sample, its bootstrap interval and its one-item sensitivity.

    Attributes:
        value: the figure on the full sample (every item weighs 1).
        low, high: the percentile interval (None when no resample defines the figure).
        items: the items resampled.
        one_item: the most one item can move the figure (see the module's docstring).
    """

    value: float
    low: float | None
    high: float | None
    items: int
    one_item: float

    def bounds(self, digits: int = 4) -> list[float] | None:
        """``[low, high]`` rounded (None without an interval): the ``<figure>_ci95`` entry."""
        if self.low is None or self.high is None:
            return None
        return [round(self.low, digits), round(self.high, digits)]


def draw_counts(
    n: int, resamples: int, rng: np.random.Generator, strata: np.ndarray | None = None
) -> np.ndarray:
    """How often each of ``n`` items is drawn in each resample: ``(resamples, n)`` floats.

    Args:
        n: the items.
        resamples: the rows to draw.
        rng: the generator.
        strata: optional label per item; each label's items are drawn among themselves, as
            many as there are.
    """
    if strata is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)
    labels = np.asarray(strata)
    if labels.shape != (n,):
        raise ValueError(f"{labels.shape} strata for {n} items")
    counts = np.zeros((resamples, n))
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        size = len(members)
        counts[:, members] = rng.multinomial(size, np.full(size, 1.0 / size), size=resamples)
    return counts


def in_chunks(stat: Stat, weights: np.ndarray, width: int | None = None) -> np.ndarray:
    """``stat`` of many rows of weights, a chunk of rows at a time (``width``: the widest array
    a row of the statistic builds, the items by default)."""
    rows = max(1, _CHUNK_CELLS // max(width or 0, weights.shape[1], 1))
    parts = [stat(weights[i : i + rows]) for i in range(0, len(weights), rows)]
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])


def bootstrap(
    stat: Stat,
    n: int,
    *,
    strata: np.ndarray | None = None,
    width: int | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[float, float | None, float | None]:
    """The figure ``stat`` on the full sample and its percentile interval over resamples.

    Args:
        stat: weights ``(rows, n)`` -> figures ``(rows,)``.
        n: the items.
        strata: per item, the class it is resampled within (None: all items together).
        width: the widest array one row of ``stat`` builds (bounds the memory; ``n`` if None).
        resamples, level, seed: see :data:`RESAMPLES`, :data:`LEVEL`, :data:`SEED`.

    Returns:
        ``(value, low, high)``; ``low`` and ``high`` are None when no resample defines it.
    """
    if n < 1:
        raise ValueError("a bootstrap needs at least one item")
    if not 0 < level < 1:
        raise ValueError(f"level {level} is not in (0, 1)")
    value = float(stat(np.ones((1, n)))[0])
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // max(width or 0, n))
    figures = []
    for start in range(0, resamples, rows):
        weights = draw_counts(n, min(rows, resamples - start), rng, strata)
        figures.append(np.asarray(stat(weights), dtype=np.float64))
    return (value, *_percentiles(np.concatenate(figures), level))


def _percentiles(figures: np.ndarray, level: float) -> tuple[float | None, float | None]:
    finite = figures[np.isfinite(figures)]
    if not len(finite):
        return None, None
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _interval(stat: Stat, n: int, one_item: float, **kwargs: Any) -> Interval:
    value, low, high = bootstrap(stat, n, **kwargs)
    return Interval(value, low, high, n, float(one_item))


def _weighted_mean(values: np.ndarray) -> Stat:
    def stat(w: np.ndarray) -> np.ndarray:
        total = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (w @ values) / total, np.nan)

    return stat


def proportion_stat(flags: Sequence[bool] | np.ndarray) -> Stat:
    """The share of items whose flag is set."""
    return _weighted_mean(np.asarray(flags, dtype=np.float64))


def proportion_interval(flags: Sequence[bool] | np.ndarray, **kwargs: Any) -> Interval:
    """Share of flagged items (frame recall, false-positive rate, contained share).

    Args:
        flags: per item, whether it counts.
        **kwargs: :func:`bootstrap`'s ``resamples``, ``level``, ``seed``.
    """
    f = np.asarray(flags, dtype=bool)
    if not len(f):
        raise ValueError("a proportion needs at least one item")
    return _interval(proportion_stat(f), len(f), 1.0 / len(f), **kwargs)


def mean_interval(values: Sequence[float] | np.ndarray, **kwargs: Any) -> Interval:
    """Mean of per-item values in [0, 1] (a per-frame IoU); sensitivity ``1 / n``."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        raise ValueError("a mean needs at least one item")
    if v.min() < 0 or v.max() > 1:
        raise ValueError("mean_interval takes values in [0, 1]")
    return _interval(_weighted_mean(v), len(v), 1.0 / len(v), **kwargs)


def ratio_stat(numerators: np.ndarray, denominators: np.ndarray) -> Stat:
    """Pooled ratio ``sum(w num) / sum(w den)``."""
    num, den = np.asarray(numerators, np.float64), np.asarray(denominators, np.float64)

    def stat(w: np.ndarray) -> np.ndarray:
        bottom = w @ den
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(bottom > 0, (w @ num) / bottom, np.nan)

    return stat


def _drop_and_double(stat: Stat, n: int) -> np.ndarray:
    """``stat`` with each item left out, and with each item counted twice."""
    eye = np.eye(n)
    return np.concatenate([stat(1.0 - eye), stat(1.0 + eye)])


def _largest_change(value: float, changed: np.ndarray) -> float:
    changed = changed[np.isfinite(changed)]
    return float(np.abs(changed - value).max()) if len(changed) else 0.0


def _pooled_items(numerators: Any, denominators: Any) -> tuple[np.ndarray, np.ndarray]:
    num, den = np.asarray(numerators, np.float64), np.asarray(denominators, np.float64)
    if num.shape != den.shape or num.ndim != 1:
        raise ValueError(f"{num.shape} numerators but {den.shape} denominators")
    keep = den > 0  # items with nothing to pool add nothing to the figure
    if not keep.any():
        raise ValueError("a pooled ratio needs an item with a positive denominator")
    return num[keep], den[keep]


def ratio_interval(
    numerators: Sequence[float] | np.ndarray,
    denominators: Sequence[float] | np.ndarray,
    *,
    bounded: bool = False,
    **kwargs: Any,
) -> Interval:
    """A ratio pooled over items, e.g. IoU as summed intersections over summed unions.

    Items with a zero denominator add nothing and are left out.

    Args:
        numerators, denominators: per item.
        bounded: each numerator lies in [0, its denominator] (an intersection and its union):
            the sensitivity also moves one item's numerator to either end.
        **kwargs: :func:`bootstrap`'s ``resamples``, ``level``, ``seed``.
    """
    num, den = _pooled_items(numerators, denominators)
    stat = ratio_stat(num, den)
    value = float(stat(np.ones((1, len(num))))[0])
    changes = [_drop_and_double(stat, len(num))]
    if bounded:
        changes += [(num.sum() - num) / den.sum(), (num.sum() - num + den) / den.sum()]
    one = _largest_change(value, np.concatenate(changes))
    return _interval(stat, len(num), one, **kwargs)


def psnr(squared_error: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Pooled PSNR (data range 1) of summed squared errors over summed values, as
    :class:`mosaicflow.restore.metrics.MetricSums` computes it."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mse = np.maximum(squared_error / values, 1e-12)
        return np.where(values > 0, 10 * np.log10(1.0 / mse), np.nan)


def psnr_gain_stat(se_a: np.ndarray, se_b: np.ndarray, values: np.ndarray) -> Stat:
    """Pooled PSNR of ``a`` minus that of ``b`` on the same values."""
    a, b, n = (np.asarray(x, np.float64) for x in (se_a, se_b, values))

    def stat(w: np.ndarray) -> np.ndarray:
        pooled = w @ n
        return psnr(w @ a, pooled) - psnr(w @ b, pooled)

    return stat


def psnr_gain_interval(
    se_a: Sequence[float] | np.ndarray,
    se_b: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    **kwargs: Any,
) -> Interval:
    """Pooled PSNR of ``a`` minus pooled PSNR of ``b`` (restored over input), in dB, over items
    (frames or clips); the squared error of every pixel is summed before the log, so an item is
    its sums, never its own PSNR.

    Args:
        se_a, se_b: per item, the summed squared error of ``a`` and of ``b`` (in the mask).
        values: per item, the values the errors were summed over (pixels times channels);
            items without any are left out.
        **kwargs: :func:`bootstrap`'s ``resamples``, ``level``, ``seed``.
    """
    a, b, n = (np.asarray(x, np.float64) for x in (se_a, se_b, values))
    if not a.shape == b.shape == n.shape or a.ndim != 1:
        raise ValueError(f"item sums of shapes {a.shape}, {b.shape}, {n.shape}")
    keep = n > 0
    if not keep.any():
        raise ValueError("a PSNR needs an item with values")
    a, b, n = a[keep], b[keep], n[keep]
    stat = psnr_gain_stat(a, b, n)
    value = float(stat(np.ones((1, len(n))))[0])
    one = _largest_change(value, _drop_and_double(stat, len(n)))
    return _interval(stat, len(n), one, **kwargs)


def _ranking(positive: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(positive, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    if pos.shape != s.shape or pos.ndim != 1:
        raise ValueError(f"{pos.shape} labels but {s.shape} scores")
    if np.isnan(s).any():
        raise ValueError("a ranking score is nan")
    return pos, s


def auroc_stat(positive: Any, score: Any) -> Stat:
    """Area under the ROC curve (ties count half), as ``sklearn.metrics.roc_auc_score``."""
    pos, s = _ranking(positive, score)
    order = np.argsort(s, kind="stable")
    pos, s = pos[order], s[order]
    # per item, the first and last position of its tie block in ascending order
    first = np.searchsorted(s, s, side="left")
    last = np.searchsorted(s, s, side="right")
    neg = (~pos).astype(np.float64)

    def stat(w: np.ndarray) -> np.ndarray:
        w = w[:, order]
        cum = np.concatenate([np.zeros((len(w), 1)), np.cumsum(w * neg, axis=1)], axis=1)
        below, upto = cum[:, first], cum[:, last]
        wins = (w * pos * (below + 0.5 * (upto - below))).sum(axis=1)
        pairs = (w * pos).sum(axis=1) * (w * neg).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pairs > 0, wins / pairs, np.nan)

    return stat


def _both_classes(pos: np.ndarray) -> tuple[int, int]:
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        raise ValueError(f"a ranking needs both classes ({n_pos} positive, {n_neg} negative)")
    return n_pos, n_neg


def auroc_interval(positive: Any, score: Any, **kwargs: Any) -> Interval:
    """AUROC of ``score`` for ``positive``, positives and negatives resampled apart.

    Sensitivity: ``max(1 / n_pos, 1 / n_neg)`` (one item moved across the whole ranking).
    """
    pos, s = _ranking(positive, score)
    n_pos, n_neg = _both_classes(pos)
    one = max(1.0 / n_pos, 1.0 / n_neg)
    return _interval(auroc_stat(pos, s), len(pos), one, strata=pos, **kwargs)


def _descending(pos: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descending order, labels in it, and per position whether it ends a tie block."""
    order = np.argsort(-s, kind="stable")
    ordered = s[order]
    ends = np.ones(len(s), bool)
    ends[:-1] = ordered[1:] != ordered[:-1]
    return order, pos[order], ends


def average_precision_stat(positive: Any, score: Any) -> Stat:
    """Average precision of the ranking by ``score`` (higher first) for ``positive``, as
    ``sklearn.metrics.average_precision_score``: precision at each distinct score threshold,
    weighted by the recall it adds."""
    pos, s = _ranking(positive, score)
    order, ranked, ends = _descending(pos, s)
    p = ranked.astype(np.float64)

    def stat(w: np.ndarray) -> np.ndarray:
        w = w[:, order]
        tp = np.cumsum(w * p, axis=1)[:, ends]
        seen = np.cumsum(w, axis=1)[:, ends]
        total = tp[:, -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(seen > 0, tp / seen, 0.0)
            gained = np.diff(tp, axis=1, prepend=0.0) / total
            return np.where(total[:, 0] > 0, (gained * precision).sum(axis=1), np.nan)

    return stat


def precision_at_recall_stat(positive: Any, score: Any, recall: float) -> Stat:
    """Precision of the shortest top of the ranking (stable order, higher score first) that
    holds ``recall`` of the positives, as :func:`mosaicflow.curate.label_issues.
    precision_at_recall`."""
    pos, s = _ranking(positive, score)
    order = np.argsort(-s, kind="stable")
    p = pos[order].astype(np.float64)

    def stat(w: np.ndarray) -> np.ndarray:
        w = w[:, order]
        tp, seen = np.cumsum(w * p, axis=1), np.cumsum(w, axis=1)
        need = recall * tp[:, -1] - 1e-9
        k = (tp >= need[:, None]).argmax(axis=1)
        rows = np.arange(len(w))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tp[:, -1] > 0, tp[rows, k] / seen[rows, k], np.nan)

    return stat


def ranking_one_item(
    build: Callable[[np.ndarray, np.ndarray], Stat], positive: Any, score: Any
) -> float:
    """The largest change of a ranking figure when one positive drops to the bottom, one
    negative rises to the top, or one negative is added above every score.

    Args:
        build: ``(positive, score) -> Stat`` (e.g. :func:`average_precision_stat`).
        positive, score: the ranking.
    """
    pos, s = _ranking(positive, score)
    value = float(build(pos, s)(np.ones((1, len(s))))[0])
    top, bottom = (s.max() + 1.0, s.min() - 1.0) if len(s) else (1.0, 0.0)
    changed = []
    for i in range(len(s)):
        moved = s.copy()
        moved[i] = bottom if pos[i] else top
        changed.append(build(pos, moved)(np.ones((1, len(s))))[0])
    extra = build(np.append(pos, False), np.append(s, top))(np.ones((1, len(s) + 1)))[0]
    return _largest_change(value, np.array([*changed, extra]))


def average_precision_interval(positive: Any, score: Any, **kwargs: Any) -> Interval:
    """Average precision (:func:`average_precision_stat`), classes resampled apart."""
    pos, s = _ranking(positive, score)
    _both_classes(pos)
    one = ranking_one_item(average_precision_stat, pos, s)
    return _interval(average_precision_stat(pos, s), len(pos), one, strata=pos, **kwargs)


def precision_at_recall_interval(
    positive: Any, score: Any, recall: float, **kwargs: Any
) -> Interval:
    """Precision where the ranking first reaches ``recall`` (:func:`precision_at_recall_stat`),
    classes resampled apart."""
    pos, s = _ranking(positive, score)
    _both_classes(pos)

    def build(p: np.ndarray, v: np.ndarray) -> Stat:
        return precision_at_recall_stat(p, v, recall)

    one = ranking_one_item(build, pos, s)
    return _interval(build(pos, s), len(pos), one, strata=pos, **kwargs)


def categorical_interval(
    counts: Sequence[int] | np.ndarray,
    stat: Callable[[np.ndarray], np.ndarray],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> Interval:
    """A figure of how many of ``N`` draws fell in each category (a sampler's stream over
    buckets), resampling the draws: the category counts of a resample are multinomial.

    Args:
        counts: draws per category.
        stat: ``(rows, categories)`` counts -> ``(rows,)`` figures.
        resamples, level, seed: see :func:`bootstrap`.

    Returns:
        The interval, ``items`` the draws; the sensitivity is the largest change when one draw
        moves from one category to another.
    """
    c = np.asarray(counts, dtype=np.float64)
    total = int(c.sum())
    if c.ndim != 1 or total < 1 or (c < 0).any():
        raise ValueError(f"draw counts {c.tolist()} hold no draws")
    rng = np.random.default_rng(seed)
    value = float(stat(c[None])[0])
    drawn = rng.multinomial(total, c / total, size=resamples).astype(np.float64)
    low, high = _percentiles(np.asarray(stat(drawn), dtype=np.float64), level)
    moves = [
        c + np.eye(len(c))[dst] - np.eye(len(c))[src]
        for src in np.flatnonzero(c > 0)
        for dst in range(len(c))
        if dst != src
    ]
    one = _largest_change(value, np.asarray(stat(np.array(moves)))) if moves else 0.0
    return Interval(value, low, high, total, one)


@dataclass(frozen=True)
class CocoClass:
    """One class's detections at one IoU threshold, in COCO's ranking, and its ground truth.

    Attributes:
        image: per detection, the position of its image (0 .. images - 1).
        true: per detection, whether it matched a ground-truth instance (ignored detections,
            which COCO counts neither as true nor as false, are left out).
        truths: per image, the class's ground-truth instances that count (not ignored).
    """

    image: np.ndarray
    true: np.ndarray
    truths: np.ndarray

    @functools.cached_property
    def ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """Per image and per true positive (in rank order), how many of the image's true
        positives and of all its detections rank at or above that true positive: two
        ``(images, true positives)`` arrays. Weighted by images, they give the curve's points
        where recall rises, the only points the interpolated precision is read at."""
        images = len(self.truths)
        hits = np.flatnonzero(self.true)
        # a detection counts from the first true positive at or below it on
        first = np.searchsorted(hits, np.arange(len(self.true)), side="left")
        above = first < len(hits)
        every = np.zeros((images, len(hits)))
        np.add.at(every, (self.image[above], first[above]), 1.0)
        true = np.zeros((images, len(hits)))
        true[self.image[hits], np.arange(len(hits))] = 1.0
        return np.cumsum(true, axis=1), np.cumsum(every, axis=1)


def coco_classes(evaluator: Any, iou: float = 0.5) -> list[CocoClass]:
    """Per class of a ``pycocotools`` ``COCOeval`` after ``evaluate()``, its detections ranked
    as ``COCOeval.accumulate`` ranks them: each image's ``dtScores`` cut at the largest
    ``maxDets``, concatenated in ``params.imgIds`` order, sorted by score with a merge sort;
    area range ``all``.

    Args:
        evaluator: the evaluated ``COCOeval`` (its ``evalImgs`` and ``params``).
        iou: the IoU threshold, one of ``params.iouThrs``.

    Raises:
        ValueError: ``iou`` is not one of the evaluator's thresholds.
    """
    p = evaluator.params
    thresholds = np.asarray(p.iouThrs)
    t = int(np.argmin(np.abs(thresholds - iou)))
    if abs(thresholds[t] - iou) > 1e-9:
        raise ValueError(f"IoU {iou} is not among the evaluator's {thresholds.tolist()}")
    classes = len(p.catIds) if p.useCats else 1
    images, areas = len(p.imgIds), len(p.areaRng)
    area = list(p.areaRngLbl).index("all")
    max_det = p.maxDets[-1]
    out = []
    for k in range(classes):
        scores, matched, ignored, owner = [], [], [], []
        truths = np.zeros(images)
        for i in range(images):
            e = evaluator.evalImgs[k * areas * images + area * images + i]
            if e is None:
                continue
            s = np.asarray(e["dtScores"][:max_det], np.float64)
            scores.append(s)
            matched.append(np.asarray(e["dtMatches"])[t, :max_det] > 0)
            ignored.append(np.asarray(e["dtIgnore"])[t, :max_det].astype(bool))
            owner.append(np.full(len(s), i))
            truths[i] = np.count_nonzero(np.asarray(e["gtIgnore"]) == 0)
        if not scores:
            out.append(CocoClass(np.zeros(0, int), np.zeros(0, bool), truths))
            continue
        inds = np.argsort(-np.concatenate(scores), kind="mergesort")
        # an ignored detection adds a point equal to the one before it: leaving it out changes
        # no interpolated precision
        keep = ~np.concatenate(ignored)[inds]
        image = np.concatenate(owner)[inds][keep]
        out.append(CocoClass(image, np.concatenate(matched)[inds][keep], truths))
    return out


def interpolated_ap(
    tp: np.ndarray, seen: np.ndarray, truths: np.ndarray, recalls: np.ndarray = COCO_RECALLS
) -> np.ndarray:
    """COCO's interpolated AP per row, read at the true positives of a ranking.

    ``COCOeval.accumulate`` makes the precision of every detection monotone (the highest
    precision at or below it) and reads it at the first detection that reaches each recall
    point. Recall rises only at true positives and a false positive never raises precision,
    so the points at the true positives give the same figure.

    Args:
        tp: ``(rows, true positives)`` weighted true positives at or above each true positive.
        seen: the same for all detections.
        truths: per row, the weighted ground-truth instances.
        recalls: the recall points.

    Returns:
        Per row, the mean interpolated precision at ``recalls`` (nan without ground truth).
    """
    hits = tp.shape[1]
    out = np.where(truths > 0, 0.0, np.nan)
    if not hits:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        rc = tp / truths[:, None]
    pr = tp / (seen + np.spacing(1))
    envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
    for r in np.flatnonzero(truths > 0):
        at = np.searchsorted(rc[r], recalls, side="left")
        out[r] = np.where(at < hits, envelope[r, np.minimum(at, hits - 1)], 0.0).mean()
    return out


def _class_ap(c: CocoClass, w: np.ndarray, recalls: np.ndarray) -> np.ndarray:
    true, every = c.ranks
    return interpolated_ap(w @ true, w @ every, w @ c.truths, recalls)


def _mean_over_classes(per_class: np.ndarray) -> np.ndarray:
    """Mean over the classes (axis 0) that are defined; nan where none is."""
    defined = np.isfinite(per_class)
    count = defined.sum(axis=0)
    total = np.where(defined, per_class, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def coco_ap50_stat(classes: Sequence[CocoClass], recalls: np.ndarray = COCO_RECALLS) -> Stat:
    """Mean over the classes with ground truth of COCO's interpolated AP, per row of image
    weights: on the full sample, ``COCOeval.stats[1]`` (AP50) of the evaluator."""

    def stat(w: np.ndarray) -> np.ndarray:
        return _mean_over_classes(np.stack([_class_ap(c, w, recalls) for c in classes]))

    return stat


def _width(classes: Sequence[CocoClass]) -> int:
    return max([int(c.true.sum()) for c in classes] + [1])


def coco_one_item(classes: Sequence[CocoClass], recalls: np.ndarray = COCO_RECALLS) -> float:
    """The largest change of the mean AP over classes when one image is left out, one true
    positive becomes a miss, or one false positive is added above every score."""
    if not classes:
        return 0.0
    images = len(classes[0].truths)
    full = np.ones((1, images))
    aps = np.array([_class_ap(c, full, recalls)[0] for c in classes])
    present = int(np.isfinite(aps).sum())
    if not present:
        return 0.0
    value = float(np.nanmean(aps))
    drops = 1.0 - np.eye(images)
    changes = [in_chunks(coco_ap50_stat(classes, recalls), drops, _width(classes))]
    for c, ap in zip(classes, aps, strict=True):
        if not np.isfinite(ap):
            continue
        true, every = c.ranks
        tp, seen, truths = true.sum(axis=0), every.sum(axis=0), np.array([c.truths.sum()])
        # a true positive missed: it and every point below it lose one hit and one detection
        lost = np.triu(np.ones((len(tp), len(tp))))
        missed = interpolated_ap(tp - lost, seen - lost, truths.repeat(len(tp)), recalls)
        extra = interpolated_ap(tp[None], seen[None] + 1.0, truths, recalls)
        for new in (missed, extra):
            changes.append(value + (new - ap) / present)
    return _largest_change(value, np.concatenate(changes))


def coco_ap50_intervals(
    classes: Sequence[CocoClass],
    recalls: np.ndarray = COCO_RECALLS,
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[Interval, list[Interval]]:
    """COCO mAP50 (:func:`coco_ap50_stat`) and each class's AP, images resampled (the same
    resamples for all).

    Args:
        classes: :func:`coco_classes` of an evaluated ``COCOeval``.
        recalls: the recall points (``params.recThrs``).
        resamples, level, seed: see :func:`bootstrap`.

    Returns:
        The mean over classes, and per class its own AP (value nan for a class without ground
        truth).
    """
    if not classes:
        raise ValueError("no class to score")
    images = len(classes[0].truths)
    full = np.array([_class_ap(c, np.ones((1, images)), recalls)[0] for c in classes])
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // max(_width(classes), images))
    parts = []
    for start in range(0, resamples, rows):
        w = draw_counts(images, min(rows, resamples - start), rng)
        parts.append(np.stack([_class_ap(c, w, recalls) for c in classes]))
    drawn = np.concatenate(parts, axis=1)
    mean = Interval(
        float(_mean_over_classes(full[:, None])[0]),
        *_percentiles(_mean_over_classes(drawn), level),
        images,
        coco_one_item(classes, recalls),
    )
    per_class = [
        Interval(float(full[k]), *_percentiles(drawn[k], level), images, coco_one_item([c]))
        for k, c in enumerate(classes)
    ]
    return mean, per_class


def coco_ap50_interval(
    classes: Sequence[CocoClass], recalls: np.ndarray = COCO_RECALLS, **kwargs: Any
) -> Interval:
    """COCO mAP50 with images resampled (:func:`coco_ap50_intervals`' first part)."""
    return coco_ap50_intervals(classes, recalls, **kwargs)[0]
