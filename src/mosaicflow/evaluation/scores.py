"""Scores of one restored video against the original, frame by frame, streaming.

Image metrics are :class:`~mosaicflow.restore.metrics.MetricSums` (pooled PSNR, SSIM inside
the true mosaic mask and on the whole frame) for three candidates: the restored video, the
mosaic input itself, and the blur baseline (the input blurred inside the true mask with each of
``sigmas``; the best sigma by PSNR in the mask is reported). The restored video's PSNR gain in
the mask over the input and over the blur comes with a bootstrap interval over the frames
(:func:`mosaicflow.bootstrap.psnr_gain_interval`, from each frame's summed squared error). The
detector's frame recall and false-positive rate count frames (any detection vs. any true mosaic
pixel, as :func:`mosaicflow.yolo.mosaics.frame_rates` does, with their bootstrap intervals);
``mosaic_coverage`` is the share of true mosaic pixels the detector's masks cover (the pixels
the restorer was asked to restore).

Face mosaics (the truth JSON's ``face_instances``) that the restore leaves alone (its detector
has a face class it did not restore) are not in the true mask; ``faces`` reports how much the
restore changed the face mosaics (PSNR of the restored video against its input there, and the
share of their pixels inside a detector mask)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mosaicflow.restore.metrics import MetricSums

_MISSING = object()


def merge_sums(parts: Iterable[MetricSums]) -> MetricSums:
    """The pooled sums of several :class:`MetricSums` (as if every frame were added to one)."""
    total = MetricSums()
    for part in parts:
        for f in dataclasses.fields(MetricSums):
            setattr(total, f.name, getattr(total, f.name) + getattr(part, f.name))
    return total


def detections_by_frame(table: Any) -> dict[int, list[str]]:
    """Frame -> RLE strings of its detections, from a ``regions.parquet`` table."""
    found: dict[int, list[str]] = {}
    rows = table[table["instance"] >= 0]
    for frame, rle in zip(rows["frame"].tolist(), rows["rle"].tolist(), strict=True):
        if rle is not None and not (isinstance(rle, float) and math.isnan(rle)):
            found.setdefault(int(frame), []).append(str(rle))
    return found


def union_mask(rles: Sequence[str], height: int, width: int) -> np.ndarray:
    """Union (bool ``(H, W)``) of RLE masks."""
    from mosaicflow.yolo.infer import decode_rle

    mask = np.zeros((height, width), bool)
    for rle in rles:
        mask |= decode_rle(rle, height, width)
    return mask


def _tensor(rgb: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].double() / 255.0


@dataclass
class FrameScorer:
    """Running sums of one video (or, merged, of several).

    Attributes:
        sigmas: blur-baseline sigmas (pixels).
        restored, mosaic: metric sums of the restored video and of the mosaic input.
        blurs: metric sums of the blur baseline, per sigma.
        found, truth: per frame, whether the detector found something / the frame has a mosaic.
        mosaic_pixels, covered_pixels: true mosaic pixels, and those inside a detector mask.
        detected_pixels: pixels inside a detector mask (all frames).
        mask_values: per frame, the values summed in the mask (pixels times channels).
        restored_se, mosaic_se, blur_se: per frame, the squared error summed in the mask of
            the restored video, of the input, and of the blur baseline per sigma.
    """

    sigmas: tuple[float, ...]
    restored: MetricSums = field(default_factory=MetricSums)
    mosaic: MetricSums = field(default_factory=MetricSums)
    blurs: dict[float, MetricSums] = field(default_factory=dict)
    found: list[bool] = field(default_factory=list)
    truth: list[bool] = field(default_factory=list)
    mosaic_pixels: int = 0
    covered_pixels: int = 0
    detected_pixels: int = 0
    mask_values: list[float] = field(default_factory=list)
    restored_se: list[float] = field(default_factory=list)
    mosaic_se: list[float] = field(default_factory=list)
    blur_se: dict[float, list[float]] = field(default_factory=dict)
    faces: MetricSums = field(default_factory=MetricSums)
    face_pixels: int = 0
    face_detected_pixels: int = 0

    def __post_init__(self) -> None:
        if not self.sigmas:
            raise ValueError("at least one blur sigma is needed")
        self.sigmas = tuple(float(s) for s in self.sigmas)
        for sigma in self.sigmas:
            self.blurs.setdefault(sigma, MetricSums())
            self.blur_se.setdefault(sigma, [])

    def add(
        self,
        original: np.ndarray,
        mosaic: np.ndarray,
        restored: np.ndarray,
        true_mask: np.ndarray,
        detected: np.ndarray,
        face_mask: np.ndarray | None = None,
    ) -> None:
        """Score one frame.

        Args:
            original, mosaic, restored: ``(H, W, 3)`` uint8 RGB frames.
            true_mask: bool ``(H, W)``: where the mosaic the restore acts on was drawn.
            detected: bool ``(H, W)``: the union of the detector's masks.
            face_mask: bool ``(H, W)``: where a face mosaic was drawn (None: none).
        """
        from mosaicflow.restore.metrics import blur_inside

        shape = original.shape
        if mosaic.shape != shape or restored.shape != shape:
            raise ValueError(
                f"frame sizes differ: original {shape}, input {mosaic.shape}, "
                f"restored {restored.shape}"
            )
        gt, lq = _tensor(original), _tensor(mosaic)
        mask = _tensor(true_mask[..., None].astype(np.uint8) * 255)
        # each frame's own sums, added to the running ones (the same sums, in the same order)
        restored_part, mosaic_part = MetricSums(), MetricSums()
        restored_part.add(_tensor(restored), gt, mask)
        mosaic_part.add(lq, gt, mask)
        self.restored = merge_sums([self.restored, restored_part])
        self.mosaic = merge_sums([self.mosaic, mosaic_part])
        for sigma in self.sigmas:
            part = MetricSums()
            if true_mask.any():
                part.add(blur_inside(lq, mask, sigma), gt, mask)
            else:  # the baseline changes nothing outside the mask
                part.add(lq, gt, mask)
            self.blurs[sigma] = merge_sums([self.blurs[sigma], part])
            self.blur_se[sigma].append(part.se_mask)
        self.mask_values.append(restored_part.n_mask)
        self.restored_se.append(restored_part.se_mask)
        self.mosaic_se.append(mosaic_part.se_mask)
        self.found.append(bool(detected.any()))
        self.truth.append(bool(true_mask.any()))
        self.mosaic_pixels += int(true_mask.sum())
        self.covered_pixels += int((true_mask & detected).sum())
        self.detected_pixels += int(detected.sum())
        if face_mask is not None and face_mask.any():
            part = MetricSums()
            part.add(_tensor(restored), lq, _tensor(face_mask[..., None].astype(np.uint8) * 255))
            self.faces = merge_sums([self.faces, part])
            self.face_pixels += int(face_mask.sum())
            self.face_detected_pixels += int((face_mask & detected).sum())

    def merged(self, other: FrameScorer) -> FrameScorer:
        """A scorer holding both videos' frames (pooled sums, concatenated frame flags)."""
        if self.sigmas != other.sigmas:
            raise ValueError(f"blur sigmas differ: {self.sigmas} vs {other.sigmas}")
        return FrameScorer(
            self.sigmas,
            merge_sums([self.restored, other.restored]),
            merge_sums([self.mosaic, other.mosaic]),
            {s: merge_sums([self.blurs[s], other.blurs[s]]) for s in self.sigmas},
            self.found + other.found,
            self.truth + other.truth,
            self.mosaic_pixels + other.mosaic_pixels,
            self.covered_pixels + other.covered_pixels,
            self.detected_pixels + other.detected_pixels,
            self.mask_values + other.mask_values,
            self.restored_se + other.restored_se,
            self.mosaic_se + other.mosaic_se,
            {s: self.blur_se[s] + other.blur_se[s] for s in self.sigmas},
            merge_sums([self.faces, other.faces]),
            self.face_pixels + other.face_pixels,
            self.face_detected_pixels + other.face_detected_pixels,
        )

    def gains(self, sigma: float) -> dict[str, Any]:
        """PSNR in the mask of the restored video minus that of the input (``over_input``) and
        of the blur baseline at ``sigma`` (``over_blur``), pooled as :meth:`result` pools them,
        each with its bootstrap interval over the frames with mask pixels (``_ci95``) and the
        most one frame left out or counted twice moves it (``_one_item``)."""
        from mosaicflow.bootstrap import psnr_gain_interval

        values = np.asarray(self.mask_values, dtype=np.float64)
        out: dict[str, Any] = {"frames": int((values > 0).sum())}
        for key, baseline in (("over_input", self.mosaic_se), ("over_blur", self.blur_se[sigma])):
            if not out["frames"]:
                out |= {key: None, f"{key}_ci95": None, f"{key}_one_item": None}
                continue
            gain = psnr_gain_interval(self.restored_se, baseline, values)
            out |= {
                key: round(gain.value, 4),
                f"{key}_ci95": gain.bounds(),
                f"{key}_one_item": round(gain.one_item, 4),
            }
        return out

    def result(self) -> dict[str, Any]:
        """``restored``, ``input``, ``blur`` (+ ``sigma``), ``blur_search``,
        ``psnr_mask_gain`` (:meth:`gains` at the best sigma), ``detection`` (with the
        frame figures' bootstrap intervals) and ``faces``: the face mosaics' pixels, the share
        of them inside a detector mask and the PSNR of the restored video against its input
        there (None without face mosaics)."""
        from mosaicflow.yolo.mosaics import frame_rate_intervals, frame_rates

        blurs = {s: sums.result() for s, sums in self.blurs.items()}
        best = max(blurs, key=lambda s: blurs[s]["psnr_mask"] or -math.inf)
        rates = frame_rates(self.found, self.truth)
        found, truth = np.asarray(self.found, bool), np.asarray(self.truth, bool)
        detection = {
            **rates,
            **frame_rate_intervals(self.found, self.truth),
            "frames_detected": int(found.sum()),
            "true_positive_frames": int((found & truth).sum()),
            "false_positive_frames": int((found & ~truth).sum()),
            "mosaic_pixels": self.mosaic_pixels,
            "mosaic_coverage": (
                round(self.covered_pixels / self.mosaic_pixels, 5) if self.mosaic_pixels else None
            ),
            "detected_pixels": self.detected_pixels,
        }
        return {
            "frames": len(self.truth),
            "restored": self.restored.result(),
            "input": self.mosaic.result(),
            "blur": {**blurs[best], "sigma": best},
            "blur_search": {str(s): r["psnr_mask"] for s, r in blurs.items()},
            "psnr_mask_gain": self.gains(best),
            "detection": detection,
            "faces": {
                "mosaic_pixels": self.face_pixels,
                "detected_share": (
                    round(self.face_detected_pixels / self.face_pixels, 5)
                    if self.face_pixels
                    else None
                ),
                "psnr_vs_input": self.faces.result()["psnr_mask"] if self.face_pixels else None,
            },
        }


def audio_stats(video: str | Path) -> dict[str, Any] | None:
    """The first audio stream's codec, packets and span in seconds (first packet's start to the
    last one's end); None when the file has no audio."""
    import av

    with av.open(str(video)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        packets = [p for p in container.demux(stream) if p.size and p.pts is not None]
        codec = stream.codec_context.name
        if not packets:
            return {"codec": codec, "packets": 0, "seconds": 0.0}
        start = min(p.pts for p in packets)
        end = max(p.pts + (p.duration or 0) for p in packets)
        seconds = float((end - start) * stream.time_base)
        return {"codec": codec, "packets": len(packets), "seconds": seconds}


def audio_packets(video: str | Path) -> int | None:
    """Audio packets of the first audio stream (None when the file has no audio)."""
    stats = audio_stats(video)
    return None if stats is None else stats["packets"]


#: How far a transcoded audio track's span may differ from the source's (s): an AAC frame of
#: priming and one of padding at 8 kHz, with room.
AUDIO_SPAN_TOLERANCE = 0.3


def audio_kept(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    """Copied audio keeps every packet; transcoded audio (another codec) keeps the span."""
    if before is None or after is None:
        return before is None and after is None
    if before["codec"] == after["codec"]:
        return before["packets"] == after["packets"]
    return abs(before["seconds"] - after["seconds"]) <= AUDIO_SPAN_TOLERANCE


def video_check(input_video: Path, restored_video: Path, frames: dict[str, int]) -> dict[str, Any]:
    """Frame count, frame rate and audio of the restored video against its input.

    Args:
        input_video, restored_video: the restore run's input and output.
        frames: decoded frame counts ``{"input": n, "restored": n, ...}``.

    Returns:
        The figures of both and ``frames_ok``, ``fps_ok``, ``audio_ok`` (copied audio: every
        packet; transcoded: the same span within :data:`AUDIO_SPAN_TOLERANCE`) and ``ok``.
    """
    from mosaicflow.video.decode import probe_video

    pin, pout = probe_video(input_video), probe_video(restored_video)
    before, after = audio_stats(input_video), audio_stats(restored_video)
    ain, aout = (None if a is None else a["packets"] for a in (before, after))
    check = {
        "frames_input": frames["input"],
        "frames_restored": frames["restored"],
        "fps_input": round(pin.fps, 6),
        "fps_restored": round(pout.fps, 6),
        "size_input": [pin.display_width, pin.display_height],
        "size_restored": [pout.display_width, pout.display_height],
        "audio_packets_input": ain,
        "audio_packets_restored": aout,
        "frames_ok": frames["input"] == frames["restored"],
        "fps_ok": abs(pin.fps - pout.fps) < 1e-3,
        "audio_ok": audio_kept(before, after),
    }
    check["ok"] = check["frames_ok"] and check["fps_ok"] and check["audio_ok"]
    return check


@dataclass(frozen=True)
class ScoredVideo:
    """What :func:`score_video` measured.

    Attributes:
        scorer: the video's running sums (merge them for the pooled figures).
        frames: decoded frames of each video (``original``, ``input``, ``restored``, ``truth``).
    """

    scorer: FrameScorer
    frames: dict[str, int]


def score_video(
    original: Path,
    mosaic_input: Path,
    restored: Path,
    truth_mkv: Path,
    masks_table: Any,
    sigmas: Sequence[float],
    *,
    truth_json: Path | None = None,
    faces_left: bool = False,
) -> ScoredVideo:
    """Score a restored video frame by frame (the four videos are decoded side by side).

    Frames past the end of the shortest video are counted, not scored, so a restored video that
    lost frames is reported (``frames``) instead of failing.

    Args:
        original: the clean video.
        mosaic_input: the same video with mosaics (the restore run's input).
        restored: the restore run's output.
        truth_mkv: the mosaic truth (:mod:`mosaicflow.formats.truth`; pixel > 0 = mosaic).
        masks_table: the restore run's detections (``regions.parquet`` rows).
        sigmas: blur-baseline sigmas.
        truth_json: the truth's JSON, whose ``face_instances`` are the face mosaics (None:
            none).
        faces_left: the restore left the face mosaics alone: they are scored apart, not in
            the true mask.
    """
    from mosaicflow.formats.truth import load_truth_json, read_truth
    from mosaicflow.video.decode import iter_frames

    per_frame = load_truth_json(truth_json)["per_frame"] if truth_json is not None else []
    faces = {
        int(entry.get("frame", i)): [int(k) for k in entry["face_instances"]]
        for i, entry in enumerate(per_frame)
        if entry.get("face_instances")
    }

    streams = {
        "original": iter_frames(original, fmt="rgb24", threads=1),
        "input": iter_frames(mosaic_input, fmt="rgb24", threads=1),
        "restored": iter_frames(restored, fmt="rgb24", threads=1),
        "truth": read_truth(truth_mkv),
    }
    detections = detections_by_frame(masks_table)
    scorer = FrameScorer(tuple(sigmas))
    counts = dict.fromkeys(streams, 0)
    for items in itertools.zip_longest(*streams.values(), fillvalue=_MISSING):
        present = dict(zip(streams, items, strict=True))
        for name, item in present.items():
            counts[name] += item is not _MISSING
        if any(item is _MISSING for item in present.values()):
            continue
        number, ids = present["truth"]
        height, width = ids.shape
        detected = union_mask(detections.get(int(number), []), height, width)
        face = np.isin(ids, faces[int(number)]) if int(number) in faces else None
        true_mask = ids > 0 if face is None or not faces_left else (ids > 0) & ~face
        scorer.add(present["original"][1], present["input"][1], present["restored"][1],
                   true_mask, detected, face)  # fmt: skip
    return ScoredVideo(scorer, counts)
