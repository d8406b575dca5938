"""Test score of the mosaic detector on every frame of the mosaicked demo test videos.

The test videos (``results/detection_testset/``) carry mosaics drawn with a seed stream the
training set never used, on every frame with a target; their truth masks hold one id per mosaic
component. Scores: COCO mask and box AP (class-agnostic, predictions at ``conf=0.001``, see
:mod:`mosaicflow.regions.evaluate`), and at the inference threshold ``conf`` the frame-level
recall (frames with a mosaic where one is found) and false-positive rate (frames without a
mosaic where one is found).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.regions.evaluate import TruthVideo, _predictions, _rle, coco_eval


def frame_rates(found: Sequence[bool], truth: Sequence[bool]) -> dict[str, float | int]:
    """Frame-level recall and false-positive rate.

    Args:
        found: per frame, whether the detector found a mosaic (at the inference threshold).
        truth: per frame, whether the frame has a mosaic.

    Returns:
        ``frame_recall``, ``frame_fp_rate`` (0.0 when there are no such frames) and the frame
        counts ``frames_with_mosaic``, ``frames_without_mosaic``.
    """
    f, t = np.asarray(found, dtype=bool), np.asarray(truth, dtype=bool)
    if f.shape != t.shape:
        raise ValueError(f"{f.shape} detections but {t.shape} truth frames")
    positives, negatives = int(t.sum()), int((~t).sum())
    return {
        "frame_recall": round(float((f & t).sum() / positives), 4) if positives else 0.0,
        "frame_fp_rate": round(float((f & ~t).sum() / negatives), 4) if negatives else 0.0,
        "frames_with_mosaic": positives,
        "frames_without_mosaic": negatives,
    }


def evaluate_mosaic_detector(
    weights: Path,
    items: Sequence[TruthVideo],
    *,
    imgsz: int,
    device: str,
    iou: float,
    conf: float,
    batch: int = 16,
) -> dict[str, Any]:
    """Mask/box AP and frame-level recall / false-positive rate of the mosaic detector.

    Args:
        weights: the detector's best.pt.
        items: the mosaicked test videos and their mosaic truth.
        imgsz, device, batch: prediction settings.
        iou: the non-maximum suppression IoU (``detector.iou``).
        conf: the inference threshold of the frame-level figures (``detector.conf``).

    Returns:
        ``mask_map50``, ``mask_map50_95``, ``box_map50``, ``box_map50_95``, ``frame_recall``,
        ``frame_fp_rate``, frame and instance counts, the videos.
    """
    from pycocotools import mask as mask_utils
    from ultralytics import YOLO

    from mosaicflow.formats.truth import read_truth

    model = YOLO(str(weights), task="segment")
    images: list[dict[str, Any]] = []
    gt_anns: list[dict[str, Any]] = []
    det_segm: list[dict[str, Any]] = []
    det_box: list[dict[str, Any]] = []
    found: list[bool] = []
    truth: list[bool] = []
    for item in items:
        truths = read_truth(item.truth_mkv)
        for _, image, result in _predictions(
            model, item, batch, imgsz=imgsz, device=device, retina_masks=True, iou=iou
        ):
            _, ids = next(truths)
            image_id = len(images) + 1
            height, width = image.shape[:2]
            images.append({"id": image_id, "height": height, "width": width})
            truth.append(bool(ids.any()))
            for inst in np.unique(ids[ids > 0]):
                rle = _rle(ids == inst)
                gt_anns.append(
                    {
                        "image_id": image_id,
                        "category_id": 1,
                        "segmentation": rle,
                        "area": float(mask_utils.area(rle)),
                        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    }
                )
            if result.boxes is None or len(result.boxes) == 0:
                found.append(False)
                continue
            scores = result.boxes.conf.cpu().numpy()
            found.append(bool((scores >= conf).any()))
            boxes = result.boxes.xyxy.cpu().numpy()
            masks = result.masks.data.cpu().numpy() > 0.5
            for score, box, mask in zip(scores, boxes, masks, strict=True):
                x0, y0, x1, y1 = (float(v) for v in box)
                common = {"image_id": image_id, "category_id": 1, "score": float(score)}
                det_segm.append({**common, "segmentation": _rle(mask)})
                det_box.append({**common, "bbox": [x0, y0, x1 - x0, y1 - y0]})
    segm = coco_eval(images, gt_anns, det_segm, ["mosaic"], "segm")
    box = coco_eval(images, gt_anns, det_box, ["mosaic"], "bbox")
    return {
        "mask_map50": segm["map50"],
        "mask_map50_95": segm["map50_95"],
        "box_map50": box["map50"],
        "box_map50_95": box["map50_95"],
        **frame_rates(found, truth),
        "conf": conf,
        "frames": len(images),
        "instances": len(gt_anns),
        "videos": [item.video.stem for item in items],
    }
