"""Rule ``build_detection_samples``: one video's images with synthetic mosaics, their mosaic
masks and a manifest.

Output folder ``<out>/images/<video>-<frame:06d>.png`` (RGB), ``<out>/masks/<same>.png`` (the
region class's mosaics, 0/255, all zero for negatives) and, with ``detection_dataset.faces``,
``<out>/face_masks/<same>.png`` (the face class's); the manifest JSON lists every sample (kind,
scene, ``positive``: whether it holds a region-class mosaic, mosaic parameters, degradations)
and every dropped frame with its reason. All randomness comes from
``numpy.random.default_rng([seed, 0, <video key>, ...])``: same inputs and config, same bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mosaicflow.datasets.censor import CensorCheck
from mosaicflow.datasets.detection.config import DetectionSamplingConfig
from mosaicflow.datasets.detection.dedup import Drop, drop_near_duplicates, phash
from mosaicflow.datasets.detection.faces import face_masks
from mosaicflow.datasets.detection.sampling import sample_frames
from mosaicflow.datasets.detection.synth import (
    Region,
    blocky_jpeg,
    clip_params,
    flat_logo,
    pixel_art,
    pixelate,
    random_mosaic,
    resize_sample,
)
from mosaicflow.datasets.tags import RegionTagger, rounded, tag_boxes
from mosaicflow.formats.boxes import Box, mask_box
from mosaicflow.formats.scaling import target_size
from mosaicflow.io import atomic_dir, write_json
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.nudenet import ClassFinder

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
#: Seed streams: the dataset's mosaics use stream 0; the test set uses ``test_seed`` (>= 1).
DATASET_STREAM = 0
KINDS = ("positive", "empty", "clean", "flat_logo")
#: Class map values of :func:`make_sample`: a region's (or random blob's) mosaic, a face's.
REGION_LABEL, FACE_LABEL = 1, 2
#: Kinds that may get a mosaic over a random blob (``detection_dataset.random_mosaics``); flat
#: logos and hard negatives stay pure negatives.
RANDOM_MOSAIC_KINDS = ("positive", "empty", "clean")


def video_key(video_id: str) -> int:
    """A stable 32-bit number of a video id (part of every seed of the video)."""
    return int(hashlib.sha256(video_id.encode("utf-8")).hexdigest()[:8], 16)


@dataclass(frozen=True)
class SamplesResult:
    """What :func:`build_video_samples` wrote."""

    video: str
    sampled: int
    images: int
    positives: int
    negatives: int
    dropped: dict[str, int]


def negative_counts(positives: int, empty: int, fraction: float) -> tuple[int, int]:
    """How many frames without regions to use and how many frames with regions to leave
    without a mosaic, so that negatives make up ``fraction`` of the images.

    Args:
        positives: frames with regions.
        empty: frames without regions.
        fraction: wanted share of negatives.

    Returns:
        ``(empty frames used, region frames turned negative)``.
    """
    if fraction >= 1.0:
        return empty, positives
    wanted = round(fraction * (positives + empty))
    if empty >= wanted:
        return min(empty, round(fraction * positives / (1.0 - fraction))), 0
    return empty, wanted - empty


def assign_kinds(
    regions: Mapping[int, Sequence[Region]], cfg: DetectionSamplingConfig, rng: np.random.Generator
) -> tuple[dict[int, str], list[int]]:
    """Decide each frame's kind (``positive``, ``empty``, ``clean``, ``flat_logo``).

    Returns:
        ``(frame -> kind, surplus frames without regions that are dropped)``.
    """
    frames = sorted(regions)
    with_regions = [f for f in frames if regions[f]]
    empty = [f for f in frames if not regions[f]]
    n_empty, n_turned = negative_counts(len(with_regions), len(empty), cfg.negatives)
    used_empty = sorted(int(f) for f in rng.permutation(empty)[:n_empty]) if empty else []
    turned = sorted(int(f) for f in rng.permutation(with_regions)[:n_turned]) if n_turned else []
    kinds: dict[int, str] = {f: "empty" for f in used_empty}
    flat = rng.random(len(turned)) < cfg.flat_fraction
    for frame, is_flat in zip(turned, flat, strict=True):
        kinds[frame] = "flat_logo" if is_flat else "clean"
    for frame in with_regions:
        kinds.setdefault(frame, "positive")
    return kinds, sorted(set(empty) - set(used_empty))


def make_sample(
    image: np.ndarray,
    regions: Sequence[Region],
    kind: str,
    cfg: DetectionSamplingConfig,
    mosaic: MosaicConfig,
    params_for: Any,
    rng: np.random.Generator,
    faces: Sequence[Region] = (),
    face_params_for: Any = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """One dataset image: resize, mosaic or negative treatment, degradations.

    Args:
        image: the frame, RGB uint8.
        regions: its regions at the frame's size.
        kind: one of :data:`KINDS`.
        cfg, mosaic: the dataset and mosaic configs.
        params_for: the video's clip parameters (:func:`~.synth.clip_params`).
        rng: the frame's own generator.
        faces: its face masks (:func:`~.faces.face_masks`), pixelated in every kind but the
            hard negatives (``detection_dataset.faces``).
        face_params_for: the faces' parameters (:func:`~.synth.clip_params` of the faces'
            mosaic section), with ``faces``.

    Returns:
        ``(image, class map, record)``: the class map is uint8, 0 where there is no mosaic,
        :data:`REGION_LABEL` under a region's or a random blob's mosaic, :data:`FACE_LABEL`
        under a face's; the record says what was done.
    """
    from mosaicflow.mosaic.degrade import degrade

    if kind not in KINDS:
        raise ValueError(f"unknown sample kind {kind!r}")
    if faces:
        faces = resize_sample(image, faces, cfg.imgsz)[1]
    image, regions = resize_sample(image, regions, cfg.imgsz)
    record: dict[str, Any] = {"kind": kind, "regions": len(regions)}
    hard = kind != "positive" and bool(rng.random() < cfg.hard_negatives)
    hard_kind = "blocky_jpeg" if rng.random() < 0.5 else "pixel_art"
    mask = np.zeros(image.shape[:2], dtype=bool)
    if kind == "positive":
        pixelated = list(regions)
        if len(regions) >= 2 and cfg.clean_regions > 0:  # no draw when off: same bytes
            left = rng.random(len(regions)) < cfg.clean_regions
            if left.all():
                left[int(rng.integers(len(regions)))] = False
            pixelated = [r for r, clean in zip(regions, left, strict=True) if not clean]
            record["clean_regions"] = int(left.sum())
        image, mask, params = pixelate(image, pixelated, params_for, cfg.min_mosaic_change)
        record["mosaics"] = params
    elif kind == "flat_logo":
        image = flat_logo(image, regions, rng)
    labels = np.where(mask, REGION_LABEL, 0).astype(np.uint8)
    if faces and not hard:  # a face's mosaic never covers a region, pixelated or clean
        before, taken = image, labels > 0
        for _, region in regions:
            taken |= region
        image, face_mask, params = pixelate(image, faces, face_params_for, cfg.min_mosaic_change)
        image[taken] = before[taken]
        labels[face_mask & ~taken] = FACE_LABEL
        record["faces"] = params
    extra = kind in RANDOM_MOSAIC_KINDS and not hard and cfg.random_mosaics > 0  # off: no draw
    if extra and rng.random() < cfg.random_mosaics:
        image, blob_mosaic, params = random_mosaic(image, mosaic, rng, cfg.min_mosaic_change)
        labels[blob_mosaic] = REGION_LABEL
        record["random_mosaic"] = params
    if hard:
        image = blocky_jpeg(image, rng) if hard_kind == "blocky_jpeg" else pixel_art(image, rng)
        record["hard"] = hard_kind
    if cfg.degrade:
        image, applied = degrade(image, mosaic.degradations, rng)
        record["degradations"] = applied
    return image, labels, record


def build_video_samples(
    cfg: DetectionSamplingConfig,
    mosaic: MosaicConfig,
    video: Path,
    index_parquet: Path,
    out_dir: Path,
    manifest: Path,
    *,
    video_id: str,
    seed: int,
    regions_parquet: Path | None = None,
    truth_mkv: Path | None = None,
    quality_scorer: Callable[[np.ndarray], tuple[float, float]] | None = None,
    tagger: RegionTagger | None = None,
    censor: CensorCheck | None = None,
    faces: ClassFinder | None = None,
) -> SamplesResult:
    """Rule ``build_detection_samples``: sample, dedup, mosaic and write one video's images.

    Args:
        cfg: the ``detection_dataset`` config.
        mosaic: the ``mosaic`` config (synthesis and degradations).
        video: the source video.
        index_parquet: its frame index (kept frames, scenes).
        out_dir: the video's sample folder (``images/``, ``masks/``; replaced atomically).
        manifest: the manifest JSON to write.
        video_id: the video's id (file names, seeds).
        seed: the config's master seed.
        regions_parquet: the region table (``detection_dataset.regions: inferred``).
        truth_mkv: the demo truth mask video (``regions: truth``).
        quality_scorer: the source-quality classifier (RGB frame -> P(clean) from five crops
            and from one resize), run on each sample's source frame; ``None``: no
            ``source_quality``.
        tagger: the region tagger (:mod:`mosaicflow.datasets.tags`), run on each sample's
            source frame; ``None``: no ``tags``.
        censor: the censor filter (:mod:`mosaicflow.datasets.censor`), run on each sampled
            frame before the kinds are drawn: a frame it flags is dropped with its reason;
            ``None``: no censor filter.
        faces: the face finder (:func:`~.faces.face_finder`), run on each sample's source
            frame: its faces get coarser mosaics, labelled ``mosaic_face`` through the masks in
            ``face_masks/``; ``None``: one class.

    Returns:
        Counts of what was written.

    Raises:
        ValueError: naming the file and config key when the region source is missing or an
            input is malformed.
    """
    source = regions_parquet if cfg.regions == "inferred" else truth_mkv
    if source is None:
        raise ValueError(
            f"{video}: config key 'detection_dataset.regions' is {cfg.regions!r} but no "
            f"{'regions.parquet' if cfg.regions == 'inferred' else 'truth mask video'} was given"
        )
    key = video_key(video_id)
    rng = np.random.default_rng([seed, DATASET_STREAM, key, 0])
    frames, scenes, images = _sample_images(video, index_parquet, cfg, rng)
    kept, drops = drop_near_duplicates(
        frames, [phash(images[f]) for f in frames], cfg.hash_distance
    )
    shape = next(iter(images.values())).shape[:2] if images else (0, 0)
    regions = _regions(cfg, Path(source), kept, scenes, shape)
    censored = censored_frames(censor, images, regions) if censor is not None else {}
    regions = {f: r for f, r in regions.items() if f not in censored}
    kinds, surplus = assign_kinds(regions, cfg, rng)
    if cfg.size_scale is not None:
        mosaic = replace(mosaic, size_scale=tuple(cfg.size_scale))
    params_for, face_params = (
        clip_params(m, [seed, DATASET_STREAM, key, stream], _resized_shape(shape, cfg))
        for m, stream in ((mosaic, 1), (cfg.faces.mosaic(mosaic), 3))
    )
    samples: list[dict[str, Any]] = []
    with atomic_dir(out_dir) as tmp:
        for folder in ("images", "masks") + ("face_masks",) * (faces is not None):
            (tmp / folder).mkdir()
        for frame in sorted(kinds):
            frame_rng = np.random.default_rng([seed, DATASET_STREAM, key, 2, frame])
            found = _faces(faces, images[frame], regions[frame], scenes.get(frame, 0), cfg)
            image, labels, record = make_sample(
                images[frame], regions[frame], kinds[frame], cfg, mosaic, params_for, frame_rng,
                found, face_params,
            )  # fmt: skip
            stem = f"{video_id}-{frame:06d}"
            positive = _write_sample(tmp, stem, image, labels, faces is not None)
            record.update(_source_measures(images[frame], regions[frame], quality_scorer, tagger))
            samples.append({"frame": frame, "stem": stem, "scene": scenes.get(frame, 0),
                            "positive": positive, **record})  # fmt: skip
    counts = _counts(len(frames), drops, surplus, samples, censored)
    write_json(
        manifest,
        _manifest(video, video_id, cfg, shape, counts, samples, drops, surplus, censored),
    )
    log.info("%s: %s", video_id, counts)
    positives = counts["positives"]
    return SamplesResult(
        video_id, len(frames), len(samples), positives, len(samples) - positives,
        {"near_duplicates": len(drops), "surplus_empty": len(surplus), "censored": len(censored)},
    )  # fmt: skip


def _regions(
    cfg: DetectionSamplingConfig,
    source: Path,
    frames: Sequence[int],
    scenes: Mapping[int, int],
    shape: Sequence[int],
) -> dict[int, list[Region]]:
    """The regions of ``frames``: inferred (the region table) or the demo truth's."""
    from mosaicflow.datasets.detection.regions import inferred_regions, truth_regions

    if cfg.regions == "inferred":
        return inferred_regions(source, frames, scenes, shape)
    return truth_regions(source, frames, scenes)


def _write_sample(tmp: Path, stem: str, image: np.ndarray, labels: np.ndarray, faces: bool) -> bool:
    """Write a sample's image, its mask of region mosaics and, with faces, its mask of face
    mosaics (0/255 PNGs); whether it has a region mosaic."""
    folders = [("images", None), ("masks", REGION_LABEL)] + [("face_masks", FACE_LABEL)] * faces
    for folder, label in folders:
        pixels = image[..., ::-1] if label is None else np.where(labels == label, 255, 0)
        _write_png(tmp / folder / f"{stem}.png", pixels.astype(np.uint8))
    return bool((labels == REGION_LABEL).any())


def _source_measures(
    image: np.ndarray,
    regions: Sequence[Region],
    quality_scorer: Callable[[np.ndarray], tuple[float, float]] | None,
    tagger: RegionTagger | None,
) -> dict[str, Any]:
    """A sample's measures of its source frame: source quality and region tags, when asked."""
    out: dict[str, Any] = {}
    if quality_scorer is not None:
        out["source_quality"], out["source_quality_resize"] = quality_scorer(image)
    if tagger is not None:
        boxes = region_boxes(regions)
        out["tags"] = rounded(tag_boxes(tagger, image, boxes) if boxes else {})
    return out


def _faces(
    finder: ClassFinder | None,
    image: np.ndarray,
    regions: Sequence[Region],
    scene: int,
    cfg: DetectionSamplingConfig,
) -> list[Region]:
    """A sample's face masks at its source frame's size, keyed by scene (one set of mosaic
    parameters per scene); none without a finder."""
    if finder is None:
        return []
    boxes = [f.box for f in finder.found(image)]
    masks = face_masks(boxes, [m for _, m in regions], image.shape[:2], cfg.faces.grow)
    return [(scene, mask) for mask in masks]


def region_boxes(regions: Sequence[Region]) -> list[Box]:
    """The boxes of a frame's non-empty region masks."""
    return [b for b in (mask_box(m) for _, m in regions) if b is not None]


def censored_frames(
    censor: CensorCheck, images: Mapping[int, np.ndarray], regions: Mapping[int, Sequence[Region]]
) -> dict[int, str]:
    """Frame -> why the censor filter drops it, for the frames it flags."""
    out: dict[int, str] = {}
    for frame in sorted(regions):
        reason = censor.frame_reason(images[frame], region_boxes(regions[frame]))
        if reason:
            out[frame] = reason
    return out


def _sample_images(
    video: Path, index_parquet: Path, cfg: DetectionSamplingConfig, rng: np.random.Generator
) -> tuple[list[int], dict[int, int], dict[int, np.ndarray]]:
    """The sampled frame numbers, every indexed frame's scene and the sampled frames (RGB)."""
    from mosaicflow.video.decode import iter_frames

    index = pd.read_parquet(index_parquet)
    try:
        frames = sample_frames(index, cfg.frames_per_video, rng)
    except ValueError as err:
        raise ValueError(f"{index_parquet}: {err}") from err
    scenes = {int(f): int(s) for f, s in zip(index["frame"], index["scene"], strict=True)}
    images = dict(iter_frames(video, frames, fmt="rgb24", threads=1))
    return frames, scenes, images


def _counts(
    sampled: int,
    drops: Sequence[Drop],
    surplus: Sequence[int],
    samples: Sequence[dict[str, Any]],
    censored: Mapping[int, str],
) -> dict[str, int]:
    """The manifest's counts: frames sampled and dropped, images written, per kind."""
    positives = sum(s["positive"] for s in samples)
    return {
        "sampled": sampled,
        "near_duplicates": len(drops),
        "surplus_empty": len(surplus),
        "censored": len(censored),
        "images": len(samples),
        "positives": positives,
        "negatives": len(samples) - positives,
        **{f"kind_{k}": sum(s["kind"] == k for s in samples) for k in KINDS},
    }


def _manifest(
    video: Path,
    video_id: str,
    cfg: DetectionSamplingConfig,
    shape: Sequence[int],
    counts: dict[str, int],
    samples: Sequence[dict[str, Any]],
    drops: Sequence[Drop],
    surplus: Sequence[int],
    censored: Mapping[int, str],
) -> dict[str, Any]:
    """The video's manifest: its samples and its dropped frames with their reasons, by frame."""
    dropped = [{"frame": d.frame, "reason": d.reason} for d in drops]
    dropped += [{"frame": f, "reason": why} for f, why in censored.items()]
    dropped += [{"frame": f, "reason": "surplus frame without regions (negatives fraction)"}
                for f in surplus]  # fmt: skip
    return {
        "version": MANIFEST_VERSION,
        "video": video_id,
        "source": str(video),
        "regions": cfg.regions,
        "frame_shape": list(shape),
        "counts": counts,
        "samples": sorted(samples, key=lambda s: s["frame"]),
        "dropped": sorted(dropped, key=lambda d: d["frame"]),
    }


def _resized_shape(shape: Sequence[int], cfg: DetectionSamplingConfig) -> tuple[int, int]:
    return target_size(int(shape[0]), int(shape[1]), cfg.imgsz)


def _write_png(path: Path, array: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(array)):
        raise OSError(f"{path}: cannot write image")


def read_manifest(path: Path) -> dict[str, Any]:
    """Read a samples manifest, checking its version and keys (errors name the file)."""
    from mosaicflow.io import read_json

    data = read_json(path)
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"{path}: detection samples manifest version is not {MANIFEST_VERSION}")
    missing = {"video", "samples", "dropped", "counts"} - set(data)
    if missing:
        raise ValueError(f"{path}: detection samples manifest lacks {sorted(missing)}")
    return data
