"""Rule ``evaluate_restoration``: score every restored test video, write ``evaluate.json``, the
per-video table, the side-by-side sample video and the still grid."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mosaicflow.evaluation.config import EvaluateConfig
from mosaicflow.evaluation.samples import (
    densest_window,
    read_samples,
    spread,
    write_grid,
    write_side_by_side,
)
from mosaicflow.evaluation.scores import FrameScorer, audio_packets, score_video, video_check
from mosaicflow.io import read_json, write_json, write_text

log = logging.getLogger(__name__)

#: Bump when the layout of ``evaluate.json`` changes.
EVALUATE_VERSION = 1
#: Columns of the per-video table (``table.tsv``), the last row pooling every video.
TABLE_COLUMNS = (
    "video", "frames", "frames_with_mosaic", "psnr_mask_restored", "psnr_mask_input",
    "psnr_mask_blur", "ssim_mask_restored", "ssim_mask_input", "ssim_mask_blur",
    "psnr_restored", "psnr_input", "ssim_restored", "ssim_input", "frame_recall",
    "frame_fp_rate", "mosaic_coverage", "restored_frames", "video_ok",
)  # fmt: skip


#: Keys of the restore run's summary copied into each video's entry.
RESTORE_KEYS = (
    "restored_frames",
    "passthrough_frames",
    "clips",
    "frames_with_detections",
    "clip_reasons",
)


def blur_sigmas(restorer_card: Path | None, configured: Sequence[float]) -> list[float]:
    """The blur baseline's sigmas for the test scoring.

    The sigma the restorer's validation chose (``baselines.blur.sigma`` of its model card) when
    there is one: choosing it on the test videos would flatter the baseline. A restorer given
    as weights has no validation; then every configured sigma is tried and the best on the test
    videos is reported (``blur_search`` in the metrics shows them all).

    Raises:
        ValueError: naming the card when it is not a JSON object.
    """
    if restorer_card is not None:
        card = read_json(restorer_card)
        if not isinstance(card, dict):
            raise ValueError(f"{restorer_card}: a model card must be a JSON object")
        sigma = ((card.get("baselines") or {}).get("blur") or {}).get("sigma")
        if sigma is not None:
            return [float(sigma)]
    if not configured:
        raise ValueError("no blur sigma configured (restoration.blur_sigmas)")
    return [float(s) for s in configured]


@dataclass(frozen=True)
class EvalItem:
    """One test video and its restore run.

    Attributes:
        name: the demo-world video's name.
        original: the clean video.
        mosaic: the mosaicked video (the restore run's input).
        truth: the mosaic truth mask video.
        restored: the restored video.
        masks: the restore run's detections (``regions.parquet`` format).
        summary: the restore run's summary JSON.
        truth_json: the mosaic truth's JSON (its ``face_instances``); None: no face mosaics.
    """

    name: str
    original: Path
    mosaic: Path
    truth: Path
    restored: Path
    masks: Path
    summary: Path
    truth_json: Path | None = None


def faces_left(summary: dict[str, Any]) -> bool:
    """Whether the restore run of ``summary`` left face mosaics alone: its detector has a face
    class that is not among the classes it restored (a summary without its classes: no)."""
    from mosaicflow.yolo.classes import faces_left_alone

    detector = summary.get("detector_classes")
    if not detector:
        return False
    names = dict(enumerate(detector))
    restored = {i: n for i, n in names.items() if n in set(summary.get("classes") or [])}
    return faces_left_alone(names, restored)


def _row(name: str, scores: dict[str, Any], restored_frames: int, ok: bool) -> dict[str, Any]:
    r, i, b, d = scores["restored"], scores["input"], scores["blur"], scores["detection"]
    return {
        "video": name, "frames": scores["frames"], "frames_with_mosaic": d["frames_with_mosaic"],
        "psnr_mask_restored": r["psnr_mask"], "psnr_mask_input": i["psnr_mask"],
        "psnr_mask_blur": b["psnr_mask"], "ssim_mask_restored": r["ssim_mask"],
        "ssim_mask_input": i["ssim_mask"], "ssim_mask_blur": b["ssim_mask"],
        "psnr_restored": r["psnr"], "psnr_input": i["psnr"], "ssim_restored": r["ssim"],
        "ssim_input": i["ssim"], "frame_recall": d["frame_recall"],
        "frame_fp_rate": d["frame_fp_rate"], "mosaic_coverage": d["mosaic_coverage"],
        "restored_frames": restored_frames, "video_ok": ok,
    }  # fmt: skip


def evaluate_restoration(
    cfg: EvaluateConfig,
    items: Sequence[EvalItem],
    sigmas: Sequence[float],
    out_metrics: Path,
    out_table: Path,
    out_video: Path,
    out_grid: Path,
    *,
    code: str,
) -> dict[str, Any]:
    """Score every restored test video against its original; write the outputs.

    Args:
        cfg: the ``evaluate`` settings (sample length, grid rows).
        items: the test videos with their restore runs.
        sigmas: blur-baseline sigmas (``restoration.blur_sigmas``).
        out_metrics: ``results/metrics/evaluate.json``: per video and pooled (``total``).
        out_table: the per-video table (TSV, a last ``all`` row).
        out_video: the side-by-side sample video (input | restored | truth).
        out_grid: the still grid PNG.
        code: the rule's code hash (recorded).

    Returns:
        The metrics written.
    """
    if not items:
        raise ValueError("no test video to evaluate (evaluate.roles selects none)")
    videos: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    total: FrameScorer | None = None
    mosaic_frames: dict[str, list[bool]] = {}
    fps: dict[str, float] = {}
    for item in items:
        summary = read_json(item.summary)
        scored = score_video(
            item.original, item.mosaic, item.restored, item.truth,
            pd.read_parquet(item.masks), sigmas,
            truth_json=item.truth_json, faces_left=faces_left(summary),
        )  # fmt: skip
        scores = scored.scorer.result()
        check = video_check(item.mosaic, item.restored, scored.frames)
        check["frames_original"] = scored.frames["original"]
        check["audio_packets_original"] = audio_packets(item.original)
        check["frames_truth"] = scored.frames["truth"]
        fps[item.name] = check["fps_input"]
        restore = {k: summary.get(k) for k in RESTORE_KEYS}
        videos.append({"video": item.name, **scores, "video_check": check, "restore": restore})
        rows.append(_row(item.name, scores, int(summary.get("restored_frames") or 0), check["ok"]))
        mosaic_frames[item.name] = scored.scorer.truth
        total = scored.scorer if total is None else total.merged(scored.scorer)
        log.info("%s: %s", item.name, rows[-1])
    assert total is not None
    pooled = total.result()
    all_ok = all(v["video_check"]["ok"] for v in videos)
    rows.append(_row("all", pooled, sum(r["restored_frames"] for r in rows), all_ok))
    metrics = {
        "version": EVALUATE_VERSION,
        "code_hash": code,
        "videos": len(videos),
        "total": pooled,
        "video_ok": all_ok,
        "per_video": videos,
    }
    write_text(out_table, pd.DataFrame(rows, columns=list(TABLE_COLUMNS)).to_csv(
        sep="\t", index=False, na_rep="NA"))  # fmt: skip
    sources = {item.name: (item.mosaic, item.restored, item.original) for item in items}
    first = next((it for it in items if any(mosaic_frames[it.name])), items[0])
    length = max(1, round(cfg.sample_seconds * fps[first.name]))
    start = densest_window(mosaic_frames[first.name], length)
    written = write_side_by_side(
        first.mosaic, first.restored, first.original, out_video, start, length, fps[first.name]
    )
    picks = [(name, i) for name, flags in mosaic_frames.items() for i, f in enumerate(flags) if f]
    picks = spread(picks or [(items[0].name, 0)], cfg.grid_frames)
    write_grid(read_samples(picks, sources), out_grid)
    metrics["samples"] = {
        "side_by_side": {"video": first.name, "start": start, "frames": written},
        "grid": [{"video": name, "frame": frame} for name, frame in picks],
    }
    write_json(out_metrics, metrics)
    return metrics
