"""The ``frames`` stage: decode a video once, build its frame index and probe data.

One streaming pass decodes every frame (YUV planes, no RGB), runs mpdecimate against the last kept
frame and scdet against the previous frame. Only per-frame metadata is kept in memory; the
sampling rules (skip first/last seconds, every n-th, at most N) are then applied on the index.

Outputs (written atomically):

- ``index.parquet``: one row per decoded frame with ``frame`` (number from 0), ``pts``
  (stream time base, null when missing), ``time`` (seconds from the first frame), ``kept``,
  ``drop_reason`` (``""`` when kept, else ``duplicate``, ``skip_start``, ``skip_end``,
  ``sampling`` or ``max_frames``; the first that applies in this order after the skips:
  ``skip_start``/``skip_end`` > ``duplicate`` > ``sampling`` > ``max_frames``), ``duplicate``
  (mpdecimate's own verdict over the whole video, whatever the skips), ``scene`` (id from 0),
  ``scene_score`` (0-100), and for every frame that is not a duplicate its perceptual signature
  (:mod:`mosaicflow.video.signature`): ``phash`` (64 bits as a signed integer, null on
  duplicates) and ``luma_std`` (NaN on duplicates).
- ``probe.json``: the :class:`~mosaicflow.video.decode.VideoProbe` fields plus the decoded frame
  count, the file size (``bytes``), counts per reason, decode errors, the mpdecimate parameters
  used and ``version``; a rejected video has ``rejected: true`` and ``reason`` instead (see
  :func:`extract_frames_or_reject`).

Rejections: with ``source.on_error: skip`` an undecodable video gets an empty index and a probe
with ``rejected: true``; :func:`write_rejected_table` gathers those probes into
``results/rejected.tsv``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaicflow import __version__
from mosaicflow.io import read_json, write_json, write_parquet, write_text
from mosaicflow.progress import ProgressLine
from mosaicflow.video.config import FramesConfig, MpdecimateConfig
from mosaicflow.video.decode import (
    PROBE_VERSION,
    DecodeStats,
    VideoDecodeError,
    iter_planes,
    probe_video,
)
from mosaicflow.video.mpdecimate import Mpdecimate, MpdecimateParams
from mosaicflow.video.scenes import SceneDetector
from mosaicflow.video.signature import luma_signature

LOG = logging.getLogger(__name__)

DROP_REASONS = ("", "duplicate", "skip_start", "skip_end", "sampling", "max_frames")

#: Columns of index.parquet, in order.
INDEX_COLUMNS = (
    "frame", "pts", "time", "kept", "drop_reason", "duplicate", "scene", "scene_score", "phash",
    "luma_std",
)  # fmt: skip

#: Columns of results/rejected.tsv.
REJECTED_COLUMNS = ("video", "path", "reason")


@dataclass(frozen=True)
class FramesResult:
    """What :func:`extract_frames` produced.

    Attributes:
        video: the source file.
        index: path of index.parquet.
        probe: path of probe.json.
        frames: decoded frames.
        kept: frames kept after dropping and sampling.
        duplicates: frames mpdecimate dropped.
        scenes: number of scenes.
        probe_data: the probe.json content.
    """

    video: Path
    index: Path
    probe: Path
    frames: int
    kept: int
    duplicates: int
    scenes: int
    probe_data: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Rejection:
    """A video that could not be decoded and was skipped (``source.on_error: skip``)."""

    video: Path
    reason: str
    index: Path
    probe: Path


def mpdecimate_params(cfg: MpdecimateConfig) -> MpdecimateParams:
    """Resolve ``frames.mpdecimate`` (a named preset or explicit hi/lo/frac) to parameters."""
    extra = {"max": cfg.max, "keep": cfg.keep, "semantics": cfg.ffmpeg_version}
    if cfg.preset is not None:
        return MpdecimateParams.preset(cfg.preset, **extra)
    return MpdecimateParams(hi=cfg.hi, lo=cfg.lo, frac=cfg.frac, **extra)  # type: ignore[arg-type]


def _empty_index() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frame": pd.Series([], dtype="int64"),
            "pts": pd.Series([], dtype="Int64"),
            "time": pd.Series([], dtype="float64"),
            "kept": pd.Series([], dtype="bool"),
            "drop_reason": pd.Series([], dtype="str"),
            "duplicate": pd.Series([], dtype="bool"),
            "scene": pd.Series([], dtype="int32"),
            "scene_score": pd.Series([], dtype="float32"),
            "phash": pd.Series([], dtype="Int64"),
            "luma_std": pd.Series([], dtype="float32"),
        }
    )


def sample_reasons(
    time: np.ndarray,
    duplicate: np.ndarray,
    end_time: float,
    cfg: FramesConfig,
) -> np.ndarray:
    """Drop reason of every frame (``""`` = kept) from times, mpdecimate verdicts and sampling.

    Args:
        time: seconds from the first frame, per frame.
        duplicate: mpdecimate's drop verdict per frame.
        end_time: end of the video in seconds (last frame time + one frame duration).
        cfg: the stage config (skips, ``every_n``, ``max_frames``).

    Returns:
        An object array of reasons, one per frame.
    """
    n = len(time)
    reasons = np.full(n, "", dtype=object)
    reasons[duplicate] = "duplicate"
    if cfg.skip_end_s > 0:
        reasons[time >= end_time - cfg.skip_end_s] = "skip_end"
    if cfg.skip_start_s > 0:
        reasons[time < cfg.skip_start_s] = "skip_start"
    candidates = np.flatnonzero(reasons == "")
    if cfg.every_n > 1 and len(candidates):
        drop = candidates[np.arange(len(candidates)) % cfg.every_n != 0]
        reasons[drop] = "sampling"
        candidates = np.flatnonzero(reasons == "")
    if cfg.max_frames is not None and len(candidates) > cfg.max_frames:
        chosen = np.unique(np.round(np.linspace(0, len(candidates) - 1, cfg.max_frames)))
        mask = np.ones(len(candidates), bool)
        mask[chosen.astype(np.int64)] = False
        reasons[candidates[mask]] = "max_frames"
    return reasons


@dataclass(frozen=True)
class _Decoded:
    """Per-frame metadata of one decoding pass, in decoding order."""

    numbers: list[int]
    pts: list[int | None]
    times: list[float]
    duplicate: list[bool]
    scene_ids: list[int]
    scores: list[float]
    hashes: list[int | None]
    luma_std: list[float]
    #: Pixel format of the decoded planes (``dedup_pix_fmt`` in probe.json).
    pix_fmt: str
    #: Scene id of the last frame.
    last_scene: int
    stats: DecodeStats


def _decode_video(
    video: Path,
    cfg: FramesConfig,
    params: MpdecimateParams,
    progress: ProgressLine,
) -> _Decoded:
    """Decode ``video`` once, running mpdecimate, scdet and the signature on every frame;
    ``progress`` gets the count of frames decoded."""
    decimator = Mpdecimate(params)
    scenes = SceneDetector(cfg.scene_threshold)
    stats = DecodeStats()
    numbers: list[int] = []
    pts_list: list[int | None] = []
    times: list[float] = []
    duplicate: list[bool] = []
    scene_ids: list[int] = []
    scores: list[float] = []
    hashes: list[int | None] = []
    luma_std: list[float] = []
    dedup_fmt = ""
    for item in iter_planes(video, threads=cfg.decode_threads, stats=stats):
        keep = decimator.push(item.planes, owner=item.frame)
        score, _ = scenes.push(item.planes[0], owner=item.frame)
        numbers.append(item.number)
        pts_list.append(item.pts)
        times.append(item.time)
        duplicate.append(not keep)
        scene_ids.append(scenes.scene)
        scores.append(score)
        phash, std = luma_signature(item.planes[0]) if keep else (None, float("nan"))
        hashes.append(phash)
        luma_std.append(std)
        dedup_fmt = item.pix_fmt
        progress.at(len(numbers), f"{scenes.scene + 1} scenes")
    progress.close(f"{scenes.scene + 1} scenes")
    if not numbers:
        detail = f": {stats.last_error}" if stats.last_error else ""
        raise VideoDecodeError(f"{video}: no decodable video frame{detail}")
    return _Decoded(
        numbers=numbers,
        pts=pts_list,
        times=times,
        duplicate=duplicate,
        scene_ids=scene_ids,
        scores=scores,
        hashes=hashes,
        luma_std=luma_std,
        pix_fmt=dedup_fmt,
        last_scene=scenes.scene,
        stats=stats,
    )


def _index_table(
    decoded: _Decoded, time: np.ndarray, dup: np.ndarray, reasons: np.ndarray
) -> pd.DataFrame:
    """The index.parquet table: one row per decoded frame, columns :data:`INDEX_COLUMNS`."""
    return pd.DataFrame(
        {
            "frame": pd.Series(decoded.numbers, dtype="int64"),
            "pts": pd.array(decoded.pts, dtype="Int64"),
            "time": time,
            "kept": reasons == "",
            "drop_reason": pd.Series(reasons.astype(str), dtype="str"),
            "duplicate": dup,
            "scene": pd.Series(decoded.scene_ids, dtype="int32"),
            "scene_score": pd.Series(decoded.scores, dtype="float32"),
            "phash": pd.array(decoded.hashes, dtype="Int64"),
            "luma_std": pd.Series(decoded.luma_std, dtype="float32"),
        }
    )


def _mpdecimate_record(params: MpdecimateParams) -> dict[str, Any]:
    """The mpdecimate parameters as recorded in probe.json."""
    return {
        "hi": params.hi,
        "lo": params.lo,
        "frac": params.frac,
        "max": params.max,
        "keep": params.keep,
        "semantics": params.semantics,
    }


def extract_frames(
    cfg: FramesConfig,
    video: Path,
    index_out: Path,
    probe_out: Path,
    log: logging.Logger | None = None,
) -> FramesResult:
    """Decode ``video`` once and write its frame index and probe data.

    Args:
        cfg: the ``frames`` config.
        video: the source video.
        index_out: where index.parquet goes.
        probe_out: where probe.json goes.
        log: logger (the module logger when ``None``).

    Returns:
        A :class:`FramesResult`.

    Raises:
        VideoDecodeError: the video cannot be opened or has no decodable frame (names the file).
    """
    log = log or LOG
    video, index_out, probe_out = Path(video), Path(index_out), Path(probe_out)
    params = mpdecimate_params(cfg.mpdecimate)
    probe = probe_video(video)
    if probe.interlaced:
        log.warning("%s: interlaced: its frames are used as decoded, the two fields' combing "
                    "included; deinterlace it first for cleaner samples (ffmpeg -vf bwdif)",
                    video)  # fmt: skip
    if probe.pixel_aspect != "1:1":
        log.warning("%s: pixels of aspect %s: frames are used at their stored size, so shapes "
                    "look stretched to the models; scale it to square pixels first for "
                    "undistorted samples (ffmpeg -vf scale=iw*sar:ih,setsar=1)",
                    video, probe.pixel_aspect)  # fmt: skip
    progress = ProgressLine(log, f"{video.name}: decode", probe.frame_count or None, unit="frames")
    decoded = _decode_video(video, cfg, params, progress)
    numbers, stats = decoded.numbers, decoded.stats
    time = np.asarray(decoded.times, dtype=np.float64)
    dup = np.asarray(decoded.duplicate, dtype=bool)
    step = 1.0 / probe.fps
    end_time = float(time[-1] + step)
    reasons = sample_reasons(time, dup, end_time, cfg)
    index = _index_table(decoded, time, dup, reasons)
    counts = {r or "kept": int(np.count_nonzero(reasons == r)) for r in DROP_REASONS}
    probe_data = {
        **probe.to_dict(),
        "path": video.name,
        "bytes": video.stat().st_size,
        "version": PROBE_VERSION,
        "package_version": __version__,
        "rejected": False,
        "decoded_frames": len(numbers),
        "decoded_duration": end_time,
        "dedup_pix_fmt": decoded.pix_fmt,
        "decode_errors": stats.errors,
        "counts": counts,
        "duplicates": int(dup.sum()),
        "scenes": int(decoded.last_scene + 1),
        "mpdecimate": _mpdecimate_record(params),
    }
    if stats.errors:
        log.warning("%s: %d packets failed to decode (%s)", video, stats.errors, stats.last_error)
    write_parquet(index_out, index)
    write_json(probe_out, probe_data)
    log.info(
        "%s: %d frames, %d kept, %d duplicates, %d scenes",
        video,
        len(numbers),
        counts["kept"],
        probe_data["duplicates"],
        probe_data["scenes"],
    )
    return FramesResult(
        video=video,
        index=index_out,
        probe=probe_out,
        frames=len(numbers),
        kept=counts["kept"],
        duplicates=probe_data["duplicates"],
        scenes=probe_data["scenes"],
        probe_data=probe_data,
    )


def extract_frames_or_reject(
    cfg: FramesConfig,
    video: Path,
    index_out: Path,
    probe_out: Path,
    on_error: str,
    video_id: str | None = None,
    log: logging.Logger | None = None,
) -> FramesResult | Rejection:
    """:func:`extract_frames`, turning an undecodable video into a rejection when asked.

    With ``on_error="skip"`` a :class:`VideoDecodeError` writes an empty index.parquet (same
    columns) and a probe.json ``{"version", "rejected": true, "video", "path", "reason"}``, so the
    rule's outputs exist and :func:`write_rejected_table` can list the video. With ``"fail"`` the
    error propagates (naming the file). Other exceptions (bugs) always propagate.

    Args:
        cfg: the ``frames`` config.
        video: the source video.
        index_out: where index.parquet goes.
        probe_out: where probe.json goes.
        on_error: ``"skip"`` or ``"fail"`` (``source.on_error``).
        video_id: the video's id for the rejection table (the file stem when ``None``).
        log: logger.

    Returns:
        A :class:`FramesResult`, or a :class:`Rejection` when skipped.
    """
    if on_error not in ("skip", "fail"):
        raise ValueError(f"on_error must be 'skip' or 'fail': {on_error!r}")
    log = log or LOG
    try:
        return extract_frames(cfg, video, index_out, probe_out, log=log)
    except VideoDecodeError as err:
        if on_error == "fail":
            raise
        reason = " ".join(str(err).split())
        log.warning("rejected %s: %s", video, reason)
        write_parquet(index_out, _empty_index())
        write_json(
            probe_out,
            {
                "version": PROBE_VERSION,
                "package_version": __version__,
                "rejected": True,
                "video": video_id or Path(video).stem,
                "path": str(video),
                "reason": reason,
            },
        )
        return Rejection(Path(video), reason, Path(index_out), Path(probe_out))


def read_probe(path: Path) -> dict[str, Any]:
    """Read and check a probe.json (``version`` and ``rejected`` fields), naming the file."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("version") != PROBE_VERSION or "rejected" not in data:
        raise ValueError(f"{path}: not a probe.json of version {PROBE_VERSION}")
    return data


def rejected_table(probe_files: Iterable[Path]) -> pd.DataFrame:
    """Rows ``video, path, reason`` of every rejected probe.json, sorted by video."""
    rows = []
    for path in probe_files:
        data = read_probe(Path(path))
        if data["rejected"]:
            rows.append({k: str(data.get(k, "")) for k in REJECTED_COLUMNS})
    frame = pd.DataFrame(rows, columns=list(REJECTED_COLUMNS))
    return frame.sort_values("video", kind="stable").reset_index(drop=True)


def write_rejected_table(probe_files: Iterable[Path], out: Path) -> int:
    """Write ``results/rejected.tsv`` (header always present) from per-video probe.json files.

    Returns:
        The number of rejected videos.
    """
    table = rejected_table(probe_files)
    write_text(out, table.to_csv(sep="\t", index=False, lineterminator="\n"))
    return len(table)
