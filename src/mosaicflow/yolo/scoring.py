"""Quality of the region models on the demo world's test videos, on every frame.

The labelme sample of a video holds a handful of frames; a figure measured on it is noisy. Here
each model runs on *every* frame of the test videos and is scored against the world's ground
truth (instance masks from ``truth/{name}.mkv``, watermark boxes from ``truth/{name}.json``)
with pycocotools' ``COCOeval`` (101-point interpolated AP, as COCO and most papers report it;
ultralytics' own ``val`` uses a slightly different interpolation). Predictions are taken at
``conf=0.001`` like any mAP evaluation, not at the inference threshold.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EVAL_CONF = 0.001
MAX_DET = 100
#: COCO's recall points (0, 0.01, ..., 1): the x axis of the precision-recall curves.
RECALL_GRID = tuple(round(i / 100, 2) for i in range(101))


@dataclass(frozen=True)
class TruthVideo:
    """One test video and its ground truth."""

    video: Path
    truth_mkv: Path
    truth_json: Path


def truth_items(flat: Sequence[str | Path]) -> list[TruthVideo]:
    """Group a flat (video, truth.mkv, truth.json, ...) list into :class:`TruthVideo` items."""
    if len(flat) % 3:
        raise ValueError("test items come in (video, truth_mkv, truth_json) triples")
    return [TruthVideo(*(Path(p) for p in flat[i : i + 3])) for i in range(0, len(flat), 3)]


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Split an iterable into lists of at most ``size`` items."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def coco_eval(
    gt_images: list[dict[str, Any]],
    gt_anns: list[dict[str, Any]],
    detections: list[dict[str, Any]],
    categories: Sequence[str],
    iou_type: str,
) -> dict[str, Any]:
    """COCO AP of ``detections`` against in-memory ground truth.

    Args:
        gt_images: ``{"id", "height", "width"}`` per image (every evaluated frame, also empty).
        gt_anns: COCO annotations (``bbox`` xywh, ``area``, ``category_id`` 1-based, and
            ``segmentation`` RLE for ``segm``).
        detections: COCO results (``image_id``, ``category_id``, ``score``, ``bbox`` or
            ``segmentation``).
        categories: class names (category ids 1..K).
        iou_type: ``segm`` or ``bbox``.

    Returns:
        ``map50``, ``map50_95``, ``per_class_map50`` (by name) and ``pr50``: per class name,
        the interpolated precision at IoU 0.5 on the :data:`RECALL_GRID` recall points (COCO's
        101; None for a class without ground truth); beside them ``map50_ci95`` and
        ``per_class_map50_ci95``, bootstrap intervals over the images, and ``map50_one_item``,
        the most one image, miss or false detection moves ``map50``
        (:mod:`mosaicflow.bootstrap`).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from mosaicflow.bootstrap import coco_ap50_intervals, coco_classes

    gt = COCO()
    anns = [{**a, "id": i + 1, "iscrowd": 0} for i, a in enumerate(gt_anns)]
    gt.dataset = {
        "images": gt_images,
        "annotations": anns,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(categories)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not detections:
            present = {a["category_id"] for a in anns}
            return {
                "map50": 0.0,
                "map50_ci95": [0.0, 0.0],
                "map50_one_item": 0.0,
                "map50_95": 0.0,
                "per_class_map50": {n: 0.0 for n in categories},
                "per_class_map50_ci95": {n: [0.0, 0.0] for n in categories},
                "pr50": {
                    n: [0.0] * len(RECALL_GRID) if i + 1 in present else None
                    for i, n in enumerate(categories)
                },
            }
        dt = gt.loadRes([dict(d) for d in detections])
        ev = COCOeval(gt, dt, iou_type)
        ev.params.maxDets = [1, 10, MAX_DET]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [iou, recall, class, area, maxdet]
    per_class, curves = {}, {}
    for k, name in enumerate(categories):
        p = precision[0, :, k, 0, -1]
        per_class[name] = round(float(p[p > -1].mean()), 4) if (p > -1).any() else 0.0
        curves[name] = [round(float(v), 4) for v in p] if (p > -1).any() else None
    mean, by_class = coco_ap50_intervals(coco_classes(ev, 0.5), ev.params.recThrs)
    return {
        "map50": round(max(float(ev.stats[1]), 0.0), 4),
        "map50_ci95": mean.bounds(),
        "map50_one_item": round(mean.one_item, 4),
        "map50_95": round(max(float(ev.stats[0]), 0.0), 4),
        "per_class_map50": per_class,
        "per_class_map50_ci95": {
            name: iv.bounds() for name, iv in zip(categories, by_class, strict=True)
        },
        "pr50": curves,
    }


def _rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def predictions(
    model: Any, video: Path, batch: int, **predict: Any
) -> Iterator[tuple[int, np.ndarray, Any]]:
    """``(frame index, BGR image, ultralytics result)`` for every frame of ``video``, predicted
    in batches at the evaluation's low score threshold."""
    from mosaicflow.video.decode import iter_frames

    for chunk in batched(iter_frames(video, None, fmt="bgr24"), batch):
        images = [image for _, image in chunk]
        results = model.predict(images, conf=EVAL_CONF, max_det=MAX_DET, verbose=False, **predict)
        for (index, image), result in zip(chunk, results, strict=True):
            yield index, image, result


@dataclass
class SegmentationRun:
    """A segmentation model's predictions on every frame of some truth videos, in COCO form.

    Attributes:
        images: ``{"id", "height", "width"}`` per frame.
        gt_anns: one class-agnostic annotation (RLE, box, area) per truth instance.
        det_segm, det_box: the predictions as COCO mask and box results.
        found: per frame, whether a prediction scored at least the run's ``conf``.
        truth: per frame, whether it has a truth instance.
        top_scores: per frame, the highest prediction score (0.0 without a prediction), so
            the frame-level figures can be recomputed at any threshold.
        names: the category names of ``category_id`` 1..K in :meth:`class_scores` (a run
            by class); one class-agnostic category otherwise.
    """

    images: list[dict[str, Any]] = field(default_factory=list)
    gt_anns: list[dict[str, Any]] = field(default_factory=list)
    det_segm: list[dict[str, Any]] = field(default_factory=list)
    det_box: list[dict[str, Any]] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    truth: list[bool] = field(default_factory=list)
    top_scores: list[float] = field(default_factory=list)
    names: tuple[str, ...] = ()

    def class_scores(self) -> dict[str, Any]:
        """Mask and box AP50 per class of a run by class, with their bootstrap intervals
        (None for a class without truth instances)."""
        segm = coco_eval(self.images, self.gt_anns, self.det_segm, self.names, "segm")
        box = coco_eval(self.images, self.gt_anns, self.det_box, self.names, "bbox")
        counts = {n: 0 for n in self.names}
        for ann in self.gt_anns:
            counts[self.names[ann["category_id"] - 1]] += 1

        def with_truth(values: dict[str, Any]) -> dict[str, Any]:
            return {n: v if counts[n] else None for n, v in values.items()}

        return {
            "per_class_mask_map50": with_truth(segm["per_class_map50"]),
            "per_class_mask_map50_ci95": with_truth(segm["per_class_map50_ci95"]),
            "per_class_box_map50": with_truth(box["per_class_map50"]),
            "per_class_box_map50_ci95": with_truth(box["per_class_map50_ci95"]),
            "per_class_instances": counts,
        }

    def scores(self, category: str) -> dict[str, Any]:
        """Mask and box AP (class-agnostic, as ``category``) with their bootstrap intervals and
        one-item sensitivities (:func:`coco_eval`), their PR curves, and counts."""
        segm = coco_eval(self.images, self.gt_anns, self.det_segm, [category], "segm")
        box = coco_eval(self.images, self.gt_anns, self.det_box, [category], "bbox")
        return {
            "mask_map50": segm["map50"],
            "mask_map50_ci95": segm["map50_ci95"],
            "mask_map50_one_item": segm["map50_one_item"],
            "mask_map50_95": segm["map50_95"],
            "box_map50": box["map50"],
            "box_map50_ci95": box["map50_ci95"],
            "box_map50_one_item": box["map50_one_item"],
            "box_map50_95": box["map50_95"],
            "frames": len(self.images),
            "instances": len(self.gt_anns),
            "pr_curves": {"mask": segm["pr50"], "box": box["pr50"]},
        }


def run_segmentation(
    weights: Path,
    items: Sequence[TruthVideo],
    *,
    imgsz: int,
    device: str,
    iou: float,
    conf: float = EVAL_CONF,
    batch: int = 16,
    restored_only: bool = False,
    by_class: bool = False,
) -> SegmentationRun:
    """Predict every frame of ``items`` with a YOLO segmentation model; collect truth and
    predictions (each truth id of ``truth/{name}.mkv`` is one instance; the ids a frame's
    ``face_instances`` list in the truth JSON are face mosaics).

    Args:
        weights, items: the model and the test videos.
        imgsz, device, batch: prediction settings.
        iou: the non-maximum suppression IoU threshold (the one inference uses).
        conf: the threshold of the per-frame ``found`` flags (predictions are kept down to
            :data:`EVAL_CONF` for AP).
        restored_only: a mosaic detector's predictions of the classes a restore acts on
            only (:func:`mosaicflow.yolo.classes.restored_kwargs`; not its face class), and
            the truth's instances but its faces when the restore leaves them alone (a
            detector without a face class restores them: they stay in the truth).
        by_class: every class's predictions with its own category (the model's names), the
            truth's faces as the model's face class and its other instances as its first
            other class (:meth:`SegmentationRun.class_scores`).
    """
    from pycocotools import mask as mask_utils

    from mosaicflow.formats.truth import load_truth_json, read_truth
    from mosaicflow.yolo.adapter import load_yolo
    from mosaicflow.yolo.classes import faces_left_alone, restored_kwargs, truth_categories

    model = load_yolo(weights, "segment")
    extra = restored_kwargs(model) if restored_only else {}
    names = {int(i): str(n) for i, n in dict(model.names).items()}
    drop_faces = restored_only and faces_left_alone(names)
    run = SegmentationRun()
    region_id = face_id = 1
    if by_class:
        run.names = tuple(n for _, n in sorted(names.items()))
        region_id, face_id = truth_categories(names)
    for item in items:
        truths = read_truth(item.truth_mkv)
        per_frame = load_truth_json(item.truth_json)["per_frame"]
        for index, image, result in predictions(
            model, item.video, batch, imgsz=imgsz, device=device, retina_masks=True, iou=iou,
            **extra,
        ):  # fmt: skip
            _, ids = next(truths)
            image_id = len(run.images) + 1
            height, width = image.shape[:2]
            run.images.append({"id": image_id, "height": height, "width": width})
            if index >= len(per_frame):
                raise ValueError(
                    f"{item.truth_json}: no per_frame entry for frame {index} of {item.video}"
                )
            faces = {int(i) for i in per_frame[index].get("face_instances") or []}
            instances = [int(i) for i in np.unique(ids[ids > 0])]
            if drop_faces:
                instances = [i for i in instances if i not in faces]
            run.truth.append(bool(instances))
            for inst in instances:
                rle = _rle(ids == inst)
                run.gt_anns.append(
                    {
                        "image_id": image_id,
                        "category_id": face_id if inst in faces else region_id,
                        "segmentation": rle,
                        "area": float(mask_utils.area(rle)),
                        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    }
                )
            if result.boxes is None or len(result.boxes) == 0:
                run.found.append(False)
                run.top_scores.append(0.0)
                continue
            scores = result.boxes.conf.cpu().numpy()
            run.found.append(bool((scores >= conf).any()))
            run.top_scores.append(float(scores.max()))
            boxes = result.boxes.xyxy.cpu().numpy()
            classes = result.boxes.cls.cpu().numpy().astype(int) + 1
            masks = result.masks.data.cpu().numpy() > 0.5
            for score, box, mask, cls in zip(scores, boxes, masks, classes, strict=True):
                x0, y0, x1, y1 = (float(v) for v in box)
                category = int(cls) if by_class else 1
                common = {"image_id": image_id, "category_id": category, "score": float(score)}
                run.det_segm.append({**common, "segmentation": _rle(mask)})
                run.det_box.append({**common, "bbox": [x0, y0, x1 - x0, y1 - y0]})
    return run


def evaluate_segmenter(
    weights: Path,
    items: Sequence[TruthVideo],
    *,
    imgsz: int,
    device: str,
    iou: float,
    batch: int = 16,
) -> dict[str, Any]:
    """Mask and box AP of a segmenter on every frame of ``items`` (class-agnostic).

    Args:
        weights, items: the model and the test videos.
        imgsz, device, batch: prediction settings.
        iou: the non-maximum suppression IoU threshold, the one region inference uses
            (``regions.iou``), so the figure is that of the regions the workflow stores.

    Returns:
        ``mask_map50``, ``mask_map50_95``, ``box_map50``, ``box_map50_95`` (the AP50s with
        ``_ci95`` and ``_one_item`` siblings), ``frames``, ``instances``, the videos and
        ``pr_curves`` (mask and box, at IoU 0.5).
    """
    run = run_segmentation(weights, items, imgsz=imgsz, device=device, iou=iou, batch=batch)
    return {**run.scores("region"), "videos": [item.video.stem for item in items]}


def evaluate_detector(
    weights: Path,
    items: Sequence[TruthVideo],
    *,
    imgsz: int,
    device: str,
    single_cls: bool,
    batch: int = 16,
) -> dict[str, Any]:
    """Box AP of the watermark detector on every frame of ``items``.

    Classes follow the truth JSON's ``classes``; with ``single_cls`` (or a model whose names
    differ from them) the evaluation is class-agnostic.

    Returns:
        ``box_map50``, ``box_map50_95``, ``per_class_map50`` (the AP50s with ``_ci95``
        siblings, ``box_map50_one_item``), ``frames``, ``boxes``, the videos and ``pr_curves``
        (box, per class, at IoU 0.5).
    """
    from mosaicflow.formats.truth import load_truth_json
    from mosaicflow.yolo.adapter import load_yolo

    model = load_yolo(weights, "detect")
    model_names = [model.names[i] for i in sorted(model.names)]
    images: list[dict[str, Any]] = []
    gt_anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    categories: list[str] | None = None
    for item in items:
        truth = load_truth_json(item.truth_json)
        classes = list(truth["classes"])
        agnostic = single_cls or model_names != classes
        categories = ["watermark"] if agnostic else classes
        for index, image, result in predictions(
            model, item.video, batch, imgsz=imgsz, device=device
        ):
            image_id = len(images) + 1
            height, width = image.shape[:2]
            images.append({"id": image_id, "height": height, "width": width})
            for wm in truth["per_frame"][index]["watermarks"]:
                x0, y0, x1, y1 = (float(v) for v in wm["box"])
                cat = 1 if agnostic else classes.index(wm["class"]) + 1
                gt_anns.append(
                    {
                        "image_id": image_id,
                        "category_id": cat,
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": (x1 - x0) * (y1 - y0),
                    }
                )
            if result.boxes is None:
                continue
            for score, cls, box in zip(
                result.boxes.conf.cpu().numpy(),
                result.boxes.cls.cpu().numpy().astype(int),
                result.boxes.xyxy.cpu().numpy(),
                strict=True,
            ):
                x0, y0, x1, y1 = (float(v) for v in box)
                dets.append(
                    {
                        "image_id": image_id,
                        "category_id": 1 if agnostic else int(cls) + 1,
                        "score": float(score),
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                    }
                )
    scores = coco_eval(images, gt_anns, dets, categories or ["watermark"], "bbox")
    return {
        "box_map50": scores["map50"],
        "box_map50_ci95": scores["map50_ci95"],
        "box_map50_one_item": scores["map50_one_item"],
        "box_map50_95": scores["map50_95"],
        "per_class_map50": scores["per_class_map50"],
        "per_class_map50_ci95": scores["per_class_map50_ci95"],
        "frames": len(images),
        "boxes": len(gt_anns),
        "videos": [item.video.stem for item in items],
        "pr_curves": {"box": scores["pr50"]},
    }
