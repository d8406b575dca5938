"""The overlapping restore pipeline: the same bytes as the one-after-another, full-frame
reference; reproducible encodes; failures named with no output left; batched clips; crossfaded
clip cuts."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicflow.inference.pipeline import RestoreSettings, check_outputs, restore_video
from mosaicflow.inference.stages import StageError
from mosaicflow.inference.tracks import ClipCutter, Instance

from .conftest import (
    InvertingRestorer,
    ScriptedDetector,
    box_mask,
    decode_rgb,
    textured_frames,
    write_video,
)

FAST = {"preset": "ultrafast"}
MOSAIC_BOX = (24, 16, 40, 32)


class InvertingBatchRestorer(InvertingRestorer):
    """Inverts crops, and takes several clips of one length at once."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[int, ...]] = []

    def restore_batch(self, clips: np.ndarray) -> np.ndarray:
        self.batches.append(clips.shape[:2])
        return 255 - clips


class BiasRestorer:
    """Returns the crops brightened or darkened by ``bias``, alternately from clip to clip: a
    restorer whose clips disagree, as real ones do where a track is cut."""

    input_size = 32

    def __init__(self, bias: int = 30) -> None:
        self.bias, self.calls = bias, 0

    def restore(self, clip: np.ndarray) -> np.ndarray:
        sign = 1 if self.calls % 2 == 0 else -1
        self.calls += 1
        return np.clip(clip.astype(int) + sign * self.bias, 0, 255).astype(np.uint8)


def busy_masks(n: int) -> list:
    """Two tracks (one crossing the other), gaps, and long runs cut at max_length."""
    left, right = box_mask(2, 2, 14, 14), box_mask(10, 6, 40, 32)
    return [(left, right) if 3 <= i < 30 else (left if i % 7 else None) for i in range(n)]


def test_every_mode_gives_the_bytes_of_the_full_frame_reference(tmp_path):
    frames = np.concatenate([textured_frames(34, seed=4), textured_frames(6, seed=5)])
    source = write_video(tmp_path / "in.mp4", frames, audio=True, crf=20)
    common = {"max_clip_frames": 10, "crf": 18, "reproducible": True, **FAST}
    modes = {
        "reference": {"pipelined": False, "compositing": "full_frame"},
        "serial": {"pipelined": False},
        "pipelined": {"pipelined": True},
        "batched": {"pipelined": True, "clip_batch": 3},
    }
    outputs = {}
    for name, mode in modes.items():
        out = tmp_path / f"{name}.mp4"
        restorer = InvertingBatchRestorer()
        result = restore_video(
            source,
            out,
            ScriptedDetector(busy_masks(40)),
            restorer,
            RestoreSettings(**common, **mode),
        )
        outputs[name] = out.read_bytes()
        assert result.clip_reasons["max_length"] >= 2 and result.clip_reasons["scene_cut"] >= 1
        if name == "batched":
            assert any(size > 1 for size, _ in restorer.batches)
    assert all(data == outputs["reference"] for data in outputs.values())


def test_reproducible_restores_are_byte_identical_across_runs(tmp_path):
    source = write_video(tmp_path / "in.mp4", textured_frames(30), audio=True, crf=20)
    runs = []
    for run in range(2):
        out = tmp_path / f"run{run}.mp4"
        restore_video(
            source,
            out,
            ScriptedDetector(busy_masks(30)),
            InvertingRestorer(),
            RestoreSettings(max_clip_frames=12, reproducible=True),  # preset medium, 1 thread
        )
        runs.append(out.read_bytes())
    assert runs[0] == runs[1]


class FailingRestorer(InvertingRestorer):
    def restore(self, clip: np.ndarray) -> np.ndarray:
        if self.clip_lengths:
            raise RuntimeError("out of memory")
        return super().restore(clip)


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_stage_failing_mid_video_is_named_and_leaves_no_output(tmp_path, pipelined):
    source = write_video(tmp_path / "in.mp4", textured_frames(40), audio=True)
    masks = [box_mask(*MOSAIC_BOX)] * 40
    settings = RestoreSettings(max_clip_frames=10, clip_overlap_frames=0, pipelined=pipelined)
    with pytest.raises(StageError, match=r"'restore' failed at frames 10-19: RuntimeError: out"):
        restore_video(
            source, tmp_path / "out.mp4", ScriptedDetector(masks), FailingRestorer(), settings
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("detected", [True, False])
def test_an_encode_failure_names_its_frame(tmp_path, monkeypatch, pipelined, detected):
    import mosaicflow.inference.pipeline as pipeline

    source = write_video(tmp_path / "in.mp4", textured_frames(40), audio=True)
    masks = [box_mask(*MOSAIC_BOX) if detected else None] * 40
    written, write = [], pipeline.VideoSink.write

    def full_disk_at_frame_33(self, planes, pts=None):
        if len(written) == 33:
            raise OSError(28, "No space left on device")
        written.append(pts)
        write(self, planes, pts)

    monkeypatch.setattr(pipeline.VideoSink, "write", full_disk_at_frame_33)
    settings = RestoreSettings(pipelined=pipelined, **FAST)  # one clip over the whole video
    with pytest.raises(StageError, match=r"'encode' failed at frame 33: OSError"):
        restore_video(
            source, tmp_path / "out.mp4", ScriptedDetector(masks), InvertingRestorer(), settings
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_output_files_that_are_a_folder_or_the_same_file_twice_are_refused(tmp_path):
    (tmp_path / "out.mp4").mkdir()
    with pytest.raises(ValueError, match=r"out\.mp4: is a folder"):
        check_outputs(tmp_path / "out.mp4", inputs=[])
    with pytest.raises(ValueError, match=r"given for two outputs"):
        check_outputs(tmp_path / "a.mp4", None, tmp_path / "sub" / ".." / "a.mp4", inputs=[])
    check_outputs(tmp_path / "a.mp4", tmp_path / "a.parquet", None, inputs=[tmp_path / "in.mp4"])


def test_an_output_that_is_the_input_or_a_folder_is_refused_before_any_work(tmp_path):
    source = write_video(tmp_path / "in.mp4", textured_frames(4), audio=False)
    restorer = InvertingRestorer()
    (tmp_path / "out.mp4").mkdir()
    for output, masks_out, why in (
        (source, None, "the output is the input"),
        (tmp_path / "out.mp4", None, "is a folder"),
        (tmp_path / "a.mp4", tmp_path / "a.mp4", "given for two outputs"),
    ):
        with pytest.raises(ValueError, match=why):
            restore_video(source, output, ScriptedDetector([None] * 4), restorer,
                          masks_out=masks_out)  # fmt: skip
    assert restorer.clip_lengths == [] and source.stat().st_size > 0


def test_clips_of_equal_length_are_restored_together(tmp_path):
    source = write_video(tmp_path / "in.mp4", textured_frames(40), audio=False)
    masks = [box_mask(*MOSAIC_BOX)] * 40
    restorer = InvertingBatchRestorer()
    settings = RestoreSettings(max_clip_frames=8, clip_overlap_frames=2, clip_batch=2, **FAST)
    result = restore_video(
        source, tmp_path / "out.mp4", ScriptedDetector(masks), restorer, settings
    )
    # clips 0-7, 6-13, 12-19, 18-25, 24-31, 30-37, 36-39: three pairs of 8, then the end
    assert restorer.batches == [(2, 8)] * 3 and restorer.clip_lengths == [4]
    assert result.clip_reasons == {"end": 1, "max_length": 6}
    assert result.peak_buffered_frames <= settings.frame_limit()


def frame_steps(video: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean absolute change inside ``mask`` from each frame to the next."""
    diff = np.abs(np.diff(video.astype(np.float64), axis=0))
    return diff[:, mask].mean(axis=(1, 2))


@pytest.mark.parametrize("overlap", [0, 4])
def test_a_clip_cut_is_crossfaded_not_a_seam(tmp_path, overlap):
    frames = textured_frames(30, seed=7)
    source = write_video(tmp_path / "in.mp4", frames, audio=False)
    mask = box_mask(*MOSAIC_BOX)
    settings = RestoreSettings(
        max_clip_frames=15, clip_overlap_frames=overlap, crf=0, pipelined=True, **FAST
    )
    out = tmp_path / "out.mp4"
    restore_video(source, out, ScriptedDetector([mask] * 30), BiasRestorer(), settings)
    steps = frame_steps(decode_rgb(out), mask)  # steps[t]: frame t to t + 1
    cut = 15 - overlap  # first frame of the second clip
    across = steps[cut - 1 : 15]  # the steps that enter, cross and leave the overlap
    inside = np.concatenate([steps[: cut - 2], steps[16:]])
    jump = 2 * BiasRestorer().bias  # the two clips' disagreement
    if overlap == 0:
        assert across.max() > inside.max() + jump / 2  # a seam: the whole jump in one step
    else:
        assert across.max() < inside.max() + jump / (overlap + 1) + 2  # spread over the steps


def inst(x0: int, y0: int, x1: int, y1: int) -> Instance:
    return Instance((x0, y0, x1, y1), np.ones((y1 - y0, x1 - x0), bool))


def test_a_track_cut_at_max_length_goes_on_in_a_clip_that_shares_its_last_frames():
    cutter = ClipCutter(max_clip_frames=5, overlap=2)
    finished = []
    for n in range(12):
        finished += cutter.push(n, [inst(n, 0, n + 10, 10)])
    finished += cutter.finish()
    spans = [(c.start, c.end, c.lead_in, c.reason) for c in finished]
    assert spans == [
        (0, 4, 0, "max_length"),
        (3, 7, 2, "max_length"),
        (6, 10, 2, "max_length"),
        (9, 11, 2, "end"),
    ]
    assert finished[1].instances[:2] == finished[0].instances[3:]  # the shared frames
    assert cutter.earliest_open_frame() is None


def test_a_clip_holding_only_its_shared_frames_is_dropped():
    cutter = ClipCutter(max_clip_frames=4, overlap=2)
    script = [[inst(0, 0, 10, 10)]] * 4 + [[]] * 2
    finished = [clip for n, found in enumerate(script) for clip in cutter.push(n, found)]
    finished += cutter.finish()
    assert [(c.start, c.end, c.reason) for c in finished] == [(0, 3, "max_length")]


@pytest.mark.parametrize("overlap", [-1, 5])
def test_the_overlap_must_be_shorter_than_a_clip(overlap):
    with pytest.raises(ValueError, match="overlap"):
        ClipCutter(max_clip_frames=5, overlap=overlap)
