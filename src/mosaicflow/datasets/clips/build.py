"""The per-video entry point: cut, crop, analyse, filter and write the clips of one video.

:func:`build_video_clips` (the per-video checkpoint job) reads the video's frames index and
region table, plans the clips (:mod:`.scenes`), decodes the video once, streaming, and for every
clip crops frames and masks (:mod:`.crops`), runs the analysers (:mod:`.analysers`), applies the
filters and writes ``clips/``, ``masks/`` and ``meta/`` files for the kept clips. It always
writes the video's manifest (``videos/<video>.json``), which lists every candidate clip with its
status and reason, last: a failed run leaves no manifest.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow import __version__
from mosaicflow.config import stable_hash
from mosaicflow.datasets.censor import CensorCheck
from mosaicflow.datasets.clips import analysers
from mosaicflow.datasets.clips.config import ClipCuttingConfig
from mosaicflow.datasets.clips.crops import CropPlan, crop_image, fill_gaps, grow_mask, plan_crop
from mosaicflow.datasets.clips.media import (
    clip_suffix,
    source_frames,
    write_clip_video,
    write_mask_video,
)
from mosaicflow.datasets.clips.meta import CLIP_META_VERSION, MANIFEST_VERSION, validate_meta
from mosaicflow.datasets.clips.scenes import (
    ClipPlan,
    RegionTableError,
    check_tables,
    link_tracks,
    plan_clips,
)
from mosaicflow.datasets.tags import RegionTagger, merge, rounded
from mosaicflow.io import write_json
from mosaicflow.mosaic.blocksize import RegionStats, estimate_block_sizes
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.progress import ProgressLine
from mosaicflow.video.decode import probe_video
from mosaicflow.yolo.infer import decode_rle
from mosaicflow.yolo.watermark import sample_indices

LOG = logging.getLogger(__name__)

#: A watermark detector: RGB frame -> (N, 4) boxes xyxy in pixels.
WatermarkDetect = Callable[[np.ndarray], np.ndarray]
#: A source-quality scorer: RGB frame -> (P(clean) from five crops, P(clean) from one resize).
QualityScore = Callable[[np.ndarray], tuple[float, float]]


def clip_name(video_id: str, clip_no: int) -> str:
    """``<video>-<clip:06d>``."""
    return f"{video_id}-{clip_no:06d}"


def clip_rng(seed: int, video_id: str, clip_no: int) -> np.random.Generator:
    """The generator of one clip, from (seed, video id, clip number) only."""
    digest = int(hashlib.sha256(video_id.encode("utf-8")).hexdigest()[:15], 16)
    return np.random.default_rng([int(seed), digest, int(clip_no)])


@dataclass
class _Job:
    """A clip being cut while the video streams past."""

    plan: ClipPlan
    record: dict[str, Any]
    crop: CropPlan
    source_rows: list[Any]  # per frame: the region row (nearest detected for gaps)
    grow_px: int
    analyse_at: set[int]
    frames: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    grays: list[np.ndarray] = field(default_factory=list)
    detected_marks: dict[int, np.ndarray] | None = None  # frame -> watermark boxes (detector)
    qualities: list[tuple[float, float]] = field(default_factory=list)  # (five crops, resize)
    tags: list[dict[str, float]] | None = None  # per analysed frame: class -> score (tagger)
    # per analysed frame: the censor detector's mosaic boxes and the region's box
    censor_found: list[np.ndarray] = field(default_factory=list)
    censor_boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


def _mask(row: Any, height: int, width: int, regions_parquet: Path) -> np.ndarray:
    """The 0/255 mask of a region row, checked against its recorded area and box."""
    where = f"{regions_parquet}: frame {int(row.frame)}, track {int(row.track_id)}"
    try:
        mask = decode_rle(row.rle, height, width)
    except (ValueError, TypeError, AttributeError) as err:
        raise RegionTableError(f"{where}: cannot decode the mask ({err})") from err
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    box = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1) if len(xs) else None
    recorded = (row.x0, row.y0, row.x1, row.y1)
    if int(mask.sum()) != int(row.area) or (
        box is not None and max(abs(a - float(b)) for a, b in zip(box, recorded, strict=True)) > 1.5
    ):
        raise RegionTableError(
            f"{where}: the mask does not match its recorded area/box at the video's "
            f"{width}x{height} frame size: the region table does not match the video"
        )
    return mask.view(np.uint8) * np.uint8(255)


def _rows_by_track(regions: pd.DataFrame) -> dict[int, dict[int, Any]]:
    """track -> frame -> region row (the first instance when a track appears twice)."""
    out: dict[int, dict[int, Any]] = {}
    for row in regions.itertuples(index=False):
        out.setdefault(int(row.track_id), {}).setdefault(int(row.frame), row)
    return out


def _region_rows(by_frame: dict[int, Any], plan: ClipPlan) -> list[Any]:
    """Per clip frame, the track's row there (the nearest detected frame's row in gaps)."""
    detected = np.array(plan.detected)
    hits = np.flatnonzero(detected)
    nearest = hits[np.abs(np.arange(len(detected))[:, None] - hits[None, :]).argmin(axis=1)]
    return [by_frame[plan.frames[int(i)]] for i in nearest]


def _base_record(
    plan: ClipPlan,
    video_id: str,
    by_number: pd.DataFrame,
    fps: float,
    frame_shape: tuple[int, int],
    seed: int,
    config_hash: str,
    code: str,
    rows: list[Any] | None,
) -> dict[str, Any]:
    """The clip's record before cropping (``by_number``: the frames index keyed by frame)."""
    info = by_number.loc[list(plan.frames)]
    per_frame = []
    for t, number in enumerate(plan.frames):
        pts = info["pts"].iloc[t]
        region = None
        if rows is not None and plan.detected[t]:
            r = rows[t]
            region = [round(float(v), 2) for v in (r.x0, r.y0, r.x1, r.y1)]
        per_frame.append(
            {
                "frame": int(number),
                "pts": None if pd.isna(pts) else int(pts),
                "time": round(float(info["time"].iloc[t]), 6),
                "detected": bool(plan.detected[t]),
                "region_box": region,
                "source_track": int(rows[t].source_track) if region is not None else None,
                "crop_box": None,
                "pad": None,
            }
        )
    return {
        "version": CLIP_META_VERSION,
        "clip": clip_name(video_id, plan.clip),
        "clip_no": plan.clip,
        "video": video_id,
        "track": plan.track,
        "scene": plan.scene,
        "status": "skipped" if plan.reason else "kept",
        "reason": plan.reason,
        "frame_start": plan.frames[0],
        "frame_end": plan.frames[-1],
        "n_frames": len(plan.frames),
        "fps": round(float(fps), 6),
        "source_shape": list(frame_shape),
        "crop_shape": None,
        "out_shape": None,
        "content_shape": None,
        "scale": None,
        "per_frame": per_frame,
        "region": None,
        "block_sizes": None,
        "analysers": None,
        "mask_growth_px": 0,
        "files": None,
        "seed": int(seed),
        "config_hash": config_hash,
        "code_hash": code,
        "package_version": __version__,
    }


def _prepare(
    plan: ClipPlan,
    rows: list[Any],
    record: dict[str, Any],
    cfg: ClipCuttingConfig,
    mosaic_cfg: MosaicConfig,
    frame_shape: tuple[int, int],
    fps: float,
    rng: np.random.Generator,
) -> _Job:
    boxes = np.array([[r.x0, r.y0, r.x1, r.y1] for r in rows], dtype=np.float64)
    boxes = fill_gaps(boxes, np.array(plan.detected))
    crop = plan_crop(boxes, frame_shape, cfg, fps)
    detected = np.array(plan.detected)
    region = analysers.region_measures(
        boxes[detected],
        np.array([r.area for r, d in zip(rows, detected, strict=True) if d], dtype=np.float64),
        frame_shape,
    )
    # Draw in a fixed order: mask growth, then the block-size estimates.
    grow = rng.random() < cfg.mask_growth.p
    radius = float(rng.uniform(*cfg.mask_growth.radius))
    long_side = max(region["box_w"], region["box_h"])
    grow_px = round(radius * long_side) if grow else 0
    stats = RegionStats(
        region["mask_area"], region["box_w"] * region["box_h"], region["box_w"], region["box_h"]
    )
    sizes = estimate_block_sizes(
        stats,
        frame_shape,
        area_measure=mosaic_cfg.area_measure,
        jitter=mosaic_cfg.sigmoid_jitter,
        coverage_range=mosaic_cfg.coverage_range,
        rng=rng,
        min_size=mosaic_cfg.min_block_size,
    )
    sizes = {
        **sizes,
        "method": mosaic_cfg.block_size_method,
        "chosen": sizes[mosaic_cfg.block_size_method],
    }
    for t, entry in enumerate(record["per_frame"]):
        entry["crop_box"] = [int(v) for v in crop.boxes[t]]
        entry["pad"] = list(crop.pad)
    box = crop.boxes[0]
    record.update(
        crop_shape=[int(box[3] - box[1]), int(box[2] - box[0])],
        out_shape=[crop.out_size, crop.out_size],
        content_shape=list(crop.content),
        scale=round(crop.scale, 8),
        region=region,
        block_sizes=sizes,
        mask_growth_px=grow_px,
    )
    analyse_at = set(sample_indices(len(plan.frames), cfg.analysers.frames))
    return _Job(plan, record, crop, rows, grow_px, analyse_at)


def build_video_clips(
    video: Path,
    frames_index: Path,
    regions_parquet: Path,
    out_dir: Path,
    cfg: ClipCuttingConfig,
    *,
    mosaic_cfg: MosaicConfig,
    video_id: str,
    seed: int,
    code: str,
    watermarks: analysers.WatermarkSource | None = None,
    watermark_detector: WatermarkDetect | None = None,
    quality_scorer: QualityScore | None = None,
    tagger: RegionTagger | None = None,
    censor: CensorCheck | None = None,
    manifest: Path | None = None,
    threads: int = 1,
    timings: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Cut the restoration clips of one video and write them (the per-video checkpoint job).

    Args:
        video: the source video.
        frames_index: ``results/frames/{video}/index.parquet``.
        regions_parquet: ``results/regions/{video}/regions.parquet``.
        out_dir: ``results/restoration_dataset`` (``clips/``, ``masks/``, ``meta/`` inside).
        cfg: the ``restoration_dataset`` config.
        mosaic_cfg: the ``mosaic`` config (block-size estimators for the metadata).
        video_id: the video's id (names the clips).
        seed: the workflow seed (clip randomness: mask growth, sigmoid block size).
        code: the rule's code hash (recorded).
        watermarks: watermark boxes per frame number (mapping or callable; ``None``: the
            watermark analyser reports ``None``); every frame of a clip is looked at.
        watermark_detector: instead of ``watermarks``, a function RGB frame -> ``(N, 4)`` boxes
            (the trained watermark detector), run on the clip's analysed frames only
            (``analysers.frames`` of them, each source frame once).
        quality_scorer: the source-quality classifier, run on the analysed frames (each source
            frame once); ``None``: ``source_quality`` is ``None``.
        tagger: the region tagger (:mod:`mosaicflow.datasets.tags`), run on the analysed
            frames (each source frame once); ``None``: the clips' ``tags`` are ``None``.
        censor: the censor filter (:mod:`mosaicflow.datasets.censor`): a clip it flags is
            ``filtered`` with a ``censored: ...`` reason; its detector, when it has one, runs on
            the analysed frames (each source frame once). ``None``: no censor filter.
        manifest: where the video's manifest goes (``out_dir/videos/<video>.json`` by default).
        threads: decoder threads.
        timings: when given, seconds spent in ``decode``, ``crop``, ``analyse``, ``encode`` are
            added to it.

    Returns:
        Every candidate clip's record (kept, filtered and skipped), in clip order.

    Raises:
        RegionTableError: the region table does not match the video or its index (names it).
        VideoDecodeError: the video cannot be decoded, or a frame is corrupt (names it).
    """
    video, out_dir = Path(video), Path(out_dir)
    manifest = Path(manifest) if manifest else out_dir / "videos" / f"{video_id}.json"
    if watermarks is not None and watermark_detector is not None:
        raise ValueError("give watermark boxes or a watermark detector, not both")
    clock = timings if timings is not None else {}
    for key in ("decode", "crop", "analyse", "encode"):
        clock.setdefault(key, 0.0)
    index = pd.read_parquet(frames_index)
    if index.empty:  # a video the frames stage rejected (source.on_error: skip)
        LOG.info("%s: empty frames index, no clips", video_id)
        _remove_stale(out_dir, video_id, set())
        write_json(manifest, {"version": MANIFEST_VERSION, "video": video_id, "clips": []})
        return []
    probe = probe_video(video)
    frame_shape = (probe.display_height, probe.display_width)
    fps = probe.fps
    regions = pd.read_parquet(regions_parquet)
    check_tables(index, regions, frame_shape, index_path=frames_index, regions_path=regions_parquet)
    found = regions[(regions["instance"] >= 0) & (regions["track_id"] >= 0)]
    found = link_tracks(index, found, cfg.max_gap_frames, cfg.link_iou)
    plans = plan_clips(index, found, cfg, fps)
    config_hash = stable_hash({"restoration_dataset": cfg, "mosaic": mosaic_cfg})
    by_number = index.set_index("frame")
    context = _RecordContext(video_id, by_number, fps, frame_shape, seed, config_hash, code)
    records, jobs = _plan_jobs(plans, found, context, cfg, mosaic_cfg)
    at_frame = _schedule(jobs, with_detector=watermark_detector is not None)
    pts = by_number["pts"]
    wanted = {n: (None if pd.isna(pts.loc[n]) else int(pts.loc[n])) for n in at_frame}
    stream = source_frames(video, wanted, probe.rotation, threads=threads)
    run = _Run(
        cfg, out_dir, regions_parquet, frame_shape, fps, watermarks=watermarks,
        watermark_detector=watermark_detector, quality_scorer=quality_scorer, clock=clock,
        tagger=tagger, censor=censor,
    )  # fmt: skip
    progress = ProgressLine(LOG, f"{video_id}: clips", len(at_frame), unit="frames")
    _stream(run, stream, at_frame, progress)
    progress.close()
    _remove_stale(out_dir, video_id, {r["clip"] for r in records if r["status"] == "kept"})
    write_json(manifest, {"version": MANIFEST_VERSION, "video": video_id, "clips": records})
    kept = sum(r["status"] == "kept" for r in records)
    LOG.info("%s: %d candidate clips, %d written", video_id, len(records), kept)
    return records


@dataclass(frozen=True)
class _RecordContext:
    """What every clip record of one video shares (``by_number``: the frames index by frame)."""

    video_id: str
    by_number: pd.DataFrame
    fps: float
    frame_shape: tuple[int, int]
    seed: int
    config_hash: str
    code: str


def _plan_jobs(
    plans: list[ClipPlan],
    found: pd.DataFrame,
    c: _RecordContext,
    cfg: ClipCuttingConfig,
    mosaic_cfg: MosaicConfig,
) -> tuple[list[dict[str, Any]], list[_Job]]:
    """Every candidate clip's record, and a crop job for each clip that is not skipped."""
    records: list[dict[str, Any]] = []
    jobs: list[_Job] = []
    by_track = _rows_by_track(found)
    for plan in plans:
        rows = None if plan.reason else _region_rows(by_track[plan.track], plan)
        record = _base_record(
            plan, c.video_id, c.by_number, c.fps, c.frame_shape, c.seed, c.config_hash, c.code, rows
        )
        records.append(record)
        if rows is not None:
            rng = clip_rng(c.seed, c.video_id, plan.clip)
            jobs.append(_prepare(plan, rows, record, cfg, mosaic_cfg, c.frame_shape, c.fps, rng))
    return records, jobs


def _schedule(jobs: list[_Job], *, with_detector: bool) -> dict[int, list[tuple[_Job, int]]]:
    """Source frame number -> the (job, clip frame) pairs that use it, in job order."""
    at_frame: dict[int, list[tuple[_Job, int]]] = {}
    for job in jobs:
        if with_detector:
            job.detected_marks = {}
        for t, number in enumerate(job.plan.frames):
            at_frame.setdefault(number, []).append((job, t))
    return at_frame


@dataclass(frozen=True)
class _Run:
    """The settings, analysers, per-source-frame caches and clock of one video's streaming."""

    cfg: ClipCuttingConfig
    out_dir: Path
    regions_parquet: Path
    frame_shape: tuple[int, int]
    fps: float
    watermarks: analysers.WatermarkSource | None
    watermark_detector: WatermarkDetect | None
    quality_scorer: QualityScore | None
    clock: dict[str, float]
    tagger: RegionTagger | None = None
    censor: CensorCheck | None = None
    # detector output, quality scores, nudenet detections and censor detections per source frame
    marks: dict[int, np.ndarray] = field(default_factory=dict)
    qualities: dict[int, tuple[float, float]] = field(default_factory=dict)
    found: dict[int, list[Any]] = field(default_factory=dict)
    mosaics: dict[int, np.ndarray] = field(default_factory=dict)


def _stream(
    run: _Run,
    stream: Iterator[tuple[int, np.ndarray]],
    at_frame: dict[int, list[tuple[_Job, int]]],
    progress: ProgressLine,
) -> None:
    """Decode the wanted source frames in turn and cut each into the clips that use it."""
    while True:
        start = time.perf_counter()
        item = next(stream, None)
        run.clock["decode"] += time.perf_counter() - start
        if item is None:
            break
        number, rgb = item
        _cut_frame(run, number, rgb, at_frame[number])
        progress.update()


def _cut_frame(run: _Run, number: int, rgb: np.ndarray, entries: list[tuple[_Job, int]]) -> None:
    """Crop one decoded source frame into every clip that uses it; finish the clips it ends."""
    h, w = run.frame_shape
    masks: dict[tuple[int, int], np.ndarray] = {}
    for job, t in entries:
        start = time.perf_counter()
        row = job.source_rows[t]
        key = (int(row.frame), int(row.track_id))
        if key not in masks:
            masks[key] = _mask(row, h, w, run.regions_parquet)
        box = job.crop.boxes[t]
        mask = masks[key]
        if job.grow_px:
            mask = grow_mask(mask, job.grow_px)
        job.frames.append(crop_image(rgb, box, job.crop))
        job.masks.append(crop_image(mask, box, job.crop, mask=True))
        run.clock["crop"] += time.perf_counter() - start
        if t in job.analyse_at:
            _analyse_frame(run, job, number, rgb, row)
        if t == len(job.plan.frames) - 1:
            _finish(job, run.cfg, run.out_dir, run.fps, run.watermarks, run.clock, run.censor)


def _analyse_frame(run: _Run, job: _Job, number: int, rgb: np.ndarray, row: Any) -> None:
    """Collect an analysed frame's region gray levels, watermark boxes and quality scores."""
    start = time.perf_counter()
    x0, y0, x1, y1 = (round(float(v)) for v in (row.x0, row.y0, row.x1, row.y1))
    gray = analysers.grey_crop(rgb, (x0, y0, x1, y1))
    if gray.size:
        job.grays.append(gray)
    if job.detected_marks is not None:
        if number not in run.marks:
            run.marks[number] = np.asarray(run.watermark_detector(rgb), np.float64)
        job.detected_marks[number] = run.marks[number].reshape(-1, 4)
    if run.quality_scorer is not None:
        if number not in run.qualities:
            run.qualities[number] = run.quality_scorer(rgb)
        job.qualities.append(run.qualities[number])
    if run.tagger is not None:
        if number not in run.found:
            run.found[number] = run.tagger.found(rgb)
        if job.tags is None:
            job.tags = []
        job.tags.append(run.tagger.inside(run.found[number], (x0, y0, x1, y1)))
    if run.censor is not None and run.censor.uses_detector:
        if number not in run.mosaics:
            run.mosaics[number] = run.censor.detect(rgb)[1]
        job.censor_found.append(run.mosaics[number])
        job.censor_boxes.append((x0, y0, x1, y1))
    run.clock["analyse"] += time.perf_counter() - start


def _remove_stale(out_dir: Path, video_id: str, kept: set[str]) -> None:
    """Delete this video's clip, mask and meta files of an earlier run that this run did not
    write (fewer clips, or now filtered); other videos' files are never touched."""
    pattern = f"{video_id}-[0-9][0-9][0-9][0-9][0-9][0-9].*"
    for folder in ("clips", "masks", "meta"):
        for path in sorted((out_dir / folder).glob(pattern)):
            if path.name.split(".", 1)[0] not in kept and path.suffix in (".mp4", ".mkv", ".json"):
                LOG.info("%s: removing %s of an earlier run", video_id, path)
                path.unlink()


def _finish(
    job: _Job,
    cfg: ClipCuttingConfig,
    out_dir: Path,
    fps: float,
    watermarks: analysers.WatermarkSource | None,
    clock: dict[str, float],
    censor: CensorCheck | None = None,
) -> None:
    start = time.perf_counter()
    record = job.record
    boxes, frames = job.crop.boxes, list(job.plan.frames)
    if job.detected_marks is not None:  # the detector looked at the analysed frames only
        picked = sorted(job.analyse_at)
        boxes, frames = boxes[picked], [frames[t] for t in picked]
        watermarks = job.detected_marks
    results: dict[str, Any] = {
        "watermark": analysers.watermark_share(
            boxes, frames, watermarks, cfg.analysers.watermark_min_overlap
        ),
        "region_px": record["region"]["region_px"],
        "region_fraction": record["region"]["region_fraction"],
        **analysers.pixel_measures(job.grays),
        **analysers.source_quality(job.qualities),
        "tags": None if job.tags is None else rounded(merge(job.tags)),
    }
    record["analysers"] = results
    censored = (
        censor.clip_reason(results["blockiness"], job.censor_found, job.censor_boxes)
        if censor is not None
        else ""
    )
    reason = censored or analysers.filter_reason(results, cfg.filters)
    clock["analyse"] += time.perf_counter() - start
    if reason:
        record.update(status="filtered", reason=reason, files=None)
    else:
        start = time.perf_counter()
        name = record["clip"]
        files = {
            "clip": f"clips/{name}{clip_suffix(cfg.codec)}",
            "mask": f"masks/{name}.mkv",
            "meta": f"meta/{name}.json",
        }
        record["files"] = files
        write_clip_video(out_dir / files["clip"], np.stack(job.frames), fps, cfg.codec, cfg.crf)
        write_mask_video(out_dir / files["mask"], np.stack(job.masks), fps)
        validate_meta(record, out_dir / files["meta"])
        write_json(out_dir / files["meta"], record)
        clock["encode"] += time.perf_counter() - start
    job.frames.clear()
    job.masks.clear()
    job.grays.clear()
