"""The restoration clip dataset's rule entry points: one video's clips (the checkpoint job
``build_restoration_clips``) and the clip scores of the test videos
(``evaluate_restoration_dataset``).

Each takes a typed job and returns a result object; the rule scripts only translate Snakemake's
``input``/``params`` into them. With ``restoration_dataset.regions: truth`` there is no region
table: the clips are cut around the demo world's truth masks, turned into a region table in
the job's work folder first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosaicflow.datasets.censor import CensorConfig
from mosaicflow.datasets.clips.config import ClipCuttingConfig
from mosaicflow.datasets.tags import TagsConfig
from mosaicflow.io import write_json
from mosaicflow.mosaic.config import MosaicConfig


@dataclass(frozen=True)
class WatermarkModel:
    """The trained watermark detector a clip job runs on the analysed frames.

    Attributes:
        weights: the detector's weights (``.pt``).
        imgsz: inference size (pixels).
        conf: detection threshold.
    """

    weights: Path
    imgsz: int
    conf: float


@dataclass(frozen=True)
class ClipJob:
    """One video's clip-building job.

    Attributes:
        video_id: the video's id (names its clips).
        video: the source video.
        frames_index: its kept frames (``results/frames/{video}/index.parquet``).
        regions: its region table (``regions.parquet``); None: cut around ``truth``.
        truth: the demo world's truth mask video (used when ``regions`` is None).
        dataset_dir: ``results/restoration_dataset`` (``clips/``, ``masks/``, ``meta/`` inside).
        manifest: where the video's manifest goes.
        work: the job's scratch folder (ultralytics settings, the truth's region table).
        seed: the workflow seed.
        code: the rule's code hash (recorded).
        threads: decoder and inference threads.
        watermark: the watermark detector to run, or None.
        quality: the source-quality classifier's weights (``quality.pt``), or None.
        tags: the ``tags`` config; None or not enabled: the clips are not tagged.
        censor: the ``censor`` config; None or not enabled: no censor filter.
        censor_detector: the censor filter's mosaic detector weights (``censor.detector``).
        device: where the watermark and censor detectors run (``auto``, ``cpu``, ``cuda:N``).
    """

    video_id: str
    video: Path
    frames_index: Path
    regions: Path | None
    truth: Path | None
    dataset_dir: Path
    manifest: Path
    work: Path
    seed: int
    code: str
    threads: int = 1
    watermark: WatermarkModel | None = None
    quality: Path | None = None
    tags: TagsConfig | None = None
    censor: CensorConfig | None = None
    censor_detector: Path | None = None
    device: str = "auto"


@dataclass(frozen=True)
class ClipJobResult:
    """What a clip job wrote: every candidate clip's record and the seconds per step."""

    records: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def kept(self) -> int:
        """Clips kept for training."""
        return sum(r["status"] == "kept" for r in self.records)


def truth_regions(truth: Path, video: Path, out: Path) -> Path:
    """The region table of a demo video's truth masks (``restoration_dataset.regions: truth``)."""
    from mosaicflow.yolo.infer import write_truth_table

    return write_truth_table(Path(truth), Path(video), Path(out))


def build_clips(job: ClipJob, dataset: ClipCuttingConfig, mosaic: MosaicConfig) -> ClipJobResult:
    """Cut, crop, analyse and write one video's clips and its manifest.

    Raises:
        ValueError: neither a region table nor a truth video is given.
    """
    from mosaicflow.datasets.clips.build import build_video_clips

    if job.regions is None and job.truth is None:
        raise ValueError(f"{job.video}: no region table and no truth masks to cut clips around")
    detector = None
    if job.watermark is not None:
        from mosaicflow.yolo.watermark import WatermarkDetector

        detector = WatermarkDetector(
            job.watermark.weights, imgsz=job.watermark.imgsz, conf=job.watermark.conf,
            device=job.device, threads=job.threads, config_dir=job.work / "yolo_config",
        ).boxes_rgb  # fmt: skip
    scorer = None
    if job.quality is not None:
        from mosaicflow.quality.score import load_scorer

        scorer = load_scorer(job.quality, job.threads).scores
    tagger = None
    if job.tags is not None and job.tags.enabled:
        from mosaicflow.datasets.tags import RegionTagger

        tagger = RegionTagger(job.tags)
    censor = None
    if job.censor is not None and job.censor.enabled:
        from mosaicflow.datasets.censor import CensorCheck

        censor = CensorCheck(
            job.censor, job.censor_detector, device=job.device, config_dir=job.work / "yolo_config",
        )  # fmt: skip
    regions = job.regions
    if regions is None:
        assert job.truth is not None
        regions = truth_regions(job.truth, job.video, job.work / "truth_regions.parquet")
    timings: dict[str, float] = {}
    records = build_video_clips(
        job.video, job.frames_index, regions, job.dataset_dir, dataset, mosaic_cfg=mosaic,
        video_id=job.video_id, seed=job.seed, code=job.code, watermark_detector=detector,
        quality_scorer=scorer, tagger=tagger, censor=censor, manifest=job.manifest,
        threads=job.threads,
        timings=timings,
    )  # fmt: skip
    return ClipJobResult(records, timings)


@dataclass(frozen=True)
class ScoredVideo:
    """A test video of the clip evaluation (its clips are scored against its truth).

    Attributes:
        video_id: its id (the clips' ``video``).
        video: the source video.
        truth_mkv: its truth masks.
        truth_json: its truth record.
        frames_index: its kept frames.
        regions: the region table its clips were cut from; None: they were cut around the truth.
    """

    video_id: str
    video: Path
    truth_mkv: Path
    truth_json: Path
    frames_index: Path
    regions: Path | None = None


def scored_videos(
    ids: Sequence[str],
    truth_items: Sequence[str | Path],
    frames: Sequence[str | Path],
    regions: Sequence[str | Path] = (),
) -> list[ScoredVideo]:
    """The test videos from the rule's lists: ids, flat (video, truth.mkv, truth.json) triples,
    frame indexes and region tables (empty: cut around the truth), all in the same order.

    Raises:
        ValueError: the lists do not line up.
    """
    from mosaicflow.yolo.scoring import truth_items as group

    triples = group(truth_items)
    if not len(ids) == len(triples) == len(frames) or (regions and len(regions) != len(ids)):
        raise ValueError(
            f"test videos: {len(ids)} ids, {len(triples)} truth triples, {len(frames)} frame "
            f"indexes and {len(regions)} region tables do not line up"
        )
    tables = [Path(r) for r in regions] if regions else [None] * len(ids)
    return [
        ScoredVideo(vid, t.video, t.truth_mkv, t.truth_json, Path(f), r)
        for vid, t, f, r in zip(ids, triples, frames, tables, strict=True)
    ]


def evaluate_clip_dataset(
    index: Path,
    videos: Sequence[ScoredVideo],
    out: Path,
    work: Path,
    *,
    min_seconds: float,
    max_gap: int,
    code: str,
) -> dict[str, Any]:
    """Score the kept clips of the test videos against their truth (track coverage, crop
    containment, mask IoU) and write the metrics JSON to ``out``.

    Returns:
        The metrics written (with the rule's ``code_hash``).
    """
    from mosaicflow.datasets.clips.evaluate import TruthVideo, evaluate_clips
    from mosaicflow.datasets.clips.index import read_index

    truth = []
    for v in videos:
        regions = v.regions or truth_regions(v.truth_mkv, v.video, work / f"{v.video_id}.parquet")
        truth.append(TruthVideo(v.video_id, v.truth_mkv, v.truth_json, regions, v.frames_index))
    result = evaluate_clips(read_index(index), Path(index).parent, truth, min_seconds, max_gap)
    metrics = {"code_hash": code, **result}
    write_json(out, metrics)
    return metrics
