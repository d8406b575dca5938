"""The restore pipeline with injected fake models on tiny PyAV-made videos with audio."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from mosaicflow.inference.pipeline import RestoreSettings, restore_video
from mosaicflow.inference.video_io import VideoSink, VideoSource
from mosaicflow.video.decode import probe_video
from mosaicflow.video.encoders import EncoderSettings, choose_encoder
from mosaicflow.yolo.infer import decode_rle

from .conftest import (
    HEIGHT,
    WIDTH,
    InvertingRestorer,
    OracleRestorer,
    ScriptedDetector,
    box_mask,
    decode_planes,
    decode_rgb,
    pixelate,
    stream_info,
    textured_frames,
    write_video,
)

FAST = {"preset": "ultrafast"}
MOSAIC_BOX = (24, 16, 40, 32)  # x0, y0, x1, y1


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_frames_fps_audio_kept_and_undetected_frames_pass_through_exactly(tmp_path):
    frames = textured_frames(20)
    source = write_video(tmp_path / "in.mp4", frames, fps=10, audio=True)
    masks = [box_mask(*MOSAIC_BOX) if 5 <= i < 13 else None for i in range(20)]
    restorer = InvertingRestorer()
    out = tmp_path / "out.mp4"
    result = restore_video(
        source,
        out,
        ScriptedDetector(masks),
        restorer,
        RestoreSettings(batch=3, crf=0, **FAST),
        masks_out=tmp_path / "masks.parquet",
    )

    before, after = stream_info(source), stream_info(out)
    assert after["frames"] == before["frames"] == 20
    assert after["fps"] == pytest.approx(before["fps"]) == pytest.approx(10.0)
    assert after["audio_codec"] == before["audio_codec"] == "aac"
    assert after["audio_bytes"] == before["audio_bytes"]  # copied packets, not re-encoded
    assert result.audio_packets == before["audio_packets"] and result.audio == "copy (aac)"

    planes_in, planes_out = decode_planes(source), decode_planes(out)
    for i in range(20):
        if masks[i] is None:  # lossless output: a pass-through frame decodes bit for bit
            assert np.array_equal(planes_in[i], planes_out[i]), f"frame {i} changed"
        else:
            y_in, y_out = planes_in[i][:HEIGHT], planes_out[i][:HEIGHT]
            changed = y_in != y_out
            assert changed[masks[i]].mean() > 0.9, f"frame {i}: mask not restored"
            x0, y0, x1, y1 = MOSAIC_BOX
            far = np.ones((HEIGHT, WIDTH), bool)
            far[max(0, y0 - 8) : y1 + 8, max(0, x0 - 8) : x1 + 8] = False
            assert not changed[far].any(), f"frame {i}: pixels beyond the border changed"
    assert restorer.clip_lengths == [8]
    summary = result.to_dict()
    assert summary["frames"] == 20 and summary["frames_with_detections"] == 8
    assert summary["restored_frames"] == 8 and summary["passthrough_frames"] == 12
    assert summary["passthrough_share"] == pytest.approx(0.6)
    assert summary["clips"] == 1 and summary["clip_reasons"] == {"gap": 1}
    assert summary["video_fps"] == pytest.approx(10.0) and summary["fps"] > 0

    table = pd.read_parquet(tmp_path / "masks.parquet")
    assert sorted(table["frame"]) == list(range(20))
    hits = table[table["instance"] >= 0]
    assert list(hits["frame"]) == list(range(5, 13))
    assert np.array_equal(decode_rle(hits["rle"].iloc[0], HEIGHT, WIDTH), masks[5])


def test_a_video_without_detections_equals_a_plain_encode_with_the_same_settings(tmp_path):
    frames = textured_frames(12)
    source = write_video(tmp_path / "in.mp4", frames, crf=20, audio=False)
    out = tmp_path / "out.mp4"
    result = restore_video(
        source,
        out,
        ScriptedDetector([None] * 12),
        InvertingRestorer(),
        RestoreSettings(crf=23, reproducible=True, **FAST),
    )
    reference = tmp_path / "reference.mp4"
    encoder = choose_encoder(EncoderSettings(crf=23, reproducible=True, **FAST), gpu=False)
    with (
        VideoSource(source) as video,
        VideoSink(reference, video.width, video.height, video.rate, encoder=encoder) as sink,
    ):
        for planes in video.frames():
            sink.write(planes)
    assert result.passthrough_share == 1.0 and result.clips == 0
    assert all(
        np.array_equal(a, b)
        for a, b in zip(decode_planes(out), decode_planes(reference), strict=True)
    )


def test_a_ground_truth_restorer_raises_psnr_inside_the_mask(tmp_path):
    truth = textured_frames(10, seed=3)
    masks = [box_mask(*MOSAIC_BOX) for _ in range(10)]
    mosaic = pixelate(truth, masks)
    source = write_video(tmp_path / "in.mp4", mosaic, audio=False)
    out = tmp_path / "out.mp4"
    restore_video(
        source,
        out,
        ScriptedDetector(masks),
        OracleRestorer(mosaic, truth),
        RestoreSettings(crf=0, **FAST),
    )
    restored, given = decode_rgb(out), decode_rgb(source)
    inside = np.stack(masks)
    before = psnr(given[inside], truth[inside])
    after = psnr(restored[inside], truth[inside])
    assert after > before + 6, (before, after)


@pytest.mark.parametrize("pipelined", [False, True])
def test_memory_is_bounded_by_the_clip_length_not_the_video(tmp_path, pipelined):
    n, max_clip = 150, 16
    source = write_video(tmp_path / "long.mp4", textured_frames(n), audio=False, crf=30)
    masks = [box_mask(*MOSAIC_BOX) if i % 50 != 49 else None for i in range(n)]  # 3 gaps
    restorer = InvertingRestorer()
    settings = RestoreSettings(
        max_clip_frames=max_clip,
        max_gap_frames=0,
        batch=4,
        crf=30,
        clip_overlap_frames=0,
        pipelined=pipelined,
        **FAST,
    )
    result = restore_video(
        source, tmp_path / "out.mp4", ScriptedDetector(masks), restorer, settings
    )
    assert result.frames == n
    # one after another: the open clip only; overlapping: also what is in flight, bounded
    limit = settings.frame_limit() if pipelined else max_clip
    assert result.peak_buffered_frames <= limit < n
    assert max(restorer.clip_lengths) == max_clip
    assert sum(restorer.clip_lengths) == n - 3
    # each 49-frame run: 3 full clips + a gap-cut clip of 1; the last run ends with the video
    assert result.clip_reasons == {"gap": 3, "max_length": 9}


@pytest.mark.parametrize("max_gap", [0, 2])
def test_a_frame_the_detector_misses_is_restored_when_bridged(tmp_path, max_gap):
    source = write_video(tmp_path / "in.mp4", textured_frames(10), audio=False)
    masks = [box_mask(*MOSAIC_BOX) if i not in (4, 5) else None for i in range(10)]
    restorer = InvertingRestorer()
    out = tmp_path / "out.mp4"
    result = restore_video(
        source,
        out,
        ScriptedDetector(masks),
        restorer,
        RestoreSettings(crf=0, max_gap_frames=max_gap, **FAST),
        masks_out=tmp_path / "masks.parquet",
    )
    planes_in, planes_out = decode_planes(source), decode_planes(out)
    missed_changed = [not np.array_equal(planes_in[i], planes_out[i]) for i in (4, 5)]
    table = pd.read_parquet(tmp_path / "masks.parquet")
    assert sorted(table.loc[table["instance"] < 0, "frame"]) == [4, 5]  # detections only
    if max_gap:
        assert missed_changed == [True, True]
        assert restorer.clip_lengths == [10] and result.restored_frames == 10
    else:
        assert missed_changed == [False, False]
        assert restorer.clip_lengths == [4, 4] and result.passthrough_frames == 2


def test_two_overlapping_tracks_are_restored_as_separate_clips(tmp_path):
    source = write_video(tmp_path / "in.mp4", textured_frames(10), audio=False)
    left, right = box_mask(2, 2, 14, 14), box_mask(46, 30, 60, 44)
    masks = [(left, right) if i >= 3 else left for i in range(10)]
    restorer = InvertingRestorer()
    result = restore_video(
        source,
        tmp_path / "out.mp4",
        ScriptedDetector(masks),
        restorer,
        RestoreSettings(crf=0, **FAST),
    )
    assert sorted(restorer.clip_lengths) == [7, 10]
    assert result.clip_reasons == {"end": 2}
    assert result.restored_frames == 10 and result.passthrough_frames == 0


def test_a_scene_cut_ends_the_clip(tmp_path):
    frames = np.concatenate([textured_frames(6, seed=1), textured_frames(6, seed=2)])
    source = write_video(tmp_path / "in.mp4", frames, audio=False)
    restorer = InvertingRestorer()
    result = restore_video(
        source,
        tmp_path / "out.mp4",
        ScriptedDetector([box_mask(*MOSAIC_BOX)] * 12),
        restorer,
        RestoreSettings(crf=0, **FAST),
    )
    assert restorer.clip_lengths == [6, 6]
    assert result.clip_reasons == {"end": 1, "scene_cut": 1}


def test_a_failing_detector_leaves_no_output(tmp_path):
    source = write_video(tmp_path / "in.mp4", textured_frames(4), audio=False)

    class Broken:
        def detect(self, frames):
            raise RuntimeError("boom")

    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="'detect' failed at frames 0-3: RuntimeError: boom"):
        restore_video(source, out, Broken(), InvertingRestorer(), RestoreSettings(**FAST))
    assert list(tmp_path.iterdir()) == [source]


def test_the_display_rotation_is_kept(tmp_path):
    source = write_video(tmp_path / "in.mp4", textured_frames(3), audio=False, rotation=90)
    out = tmp_path / "out.mp4"
    restore_video(
        source, out, ScriptedDetector([None] * 3), InvertingRestorer(), RestoreSettings(**FAST)
    )
    assert probe_video(source).rotation != 0
    assert probe_video(out).rotation == probe_video(source).rotation


def write_odd_video(path, frames: np.ndarray, fps: int = 10):
    """Lossless FFV1 ``yuv420p`` of RGB frames of any size (x264 needs even sides)."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for image in frames:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def test_an_odd_sized_video_is_restored_one_pixel_larger_with_its_samples_kept(tmp_path):
    import av

    from mosaicflow.video.decode import plane_arrays

    frames = textured_frames(10, height=HEIGHT - 1, width=WIDTH - 1)  # 63 x 47
    source = write_odd_video(tmp_path / "in.mkv", frames)
    masks = [box_mask(*MOSAIC_BOX) if 3 <= i < 7 else None for i in range(10)]
    out = tmp_path / "out.mp4"
    result = restore_video(
        source, out, ScriptedDetector(masks), InvertingRestorer(), RestoreSettings(crf=0, **FAST)
    )
    assert (result.width, result.height) == (WIDTH, HEIGHT)
    with av.open(str(source)) as container:
        decoded = [plane_arrays(f) for f in container.decode(video=0)]
    planes_out = decode_planes(out)
    assert len(planes_out) == len(decoded) == 10
    for i, (y_in, u_in, v_in) in enumerate(decoded):
        y_out = planes_out[i][:HEIGHT]
        if masks[i] is not None:
            assert (y_out[:-1, :-1] != y_in)[masks[i][:-1, :-1]].mean() > 0.9, i
            continue
        # lossless output: the source's samples, its last column and row repeated once
        assert np.array_equal(y_out[:-1, :-1], y_in), i
        assert np.array_equal(y_out[:-1, -1], y_in[:, -1]), i
        assert np.array_equal(y_out[-1, :-1], y_in[-1]), i
        chroma = planes_out[i][HEIGHT:].reshape(-1)
        quarter = (HEIGHT // 2) * (WIDTH // 2)
        assert np.array_equal(chroma[:quarter], u_in.reshape(-1)), i
        assert np.array_equal(chroma[quarter:], v_in.reshape(-1)), i


def write_vfr_video(path, frames: np.ndarray, times_ms: list[int]):
    """Lossless x264 of RGB frames shown at ``times_ms`` (a variable frame rate)."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        video.options = {"crf": "0", "preset": "ultrafast", "threads": "1"}
        for image, ms in zip(frames, times_ms, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def frame_times(path) -> list[float]:
    import av

    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(video=0)]


def test_a_variable_frame_rate_is_kept_frame_by_frame(tmp_path):
    # a second at 30 frames/s, then two at 10: encoded at the average rate instead, the frame
    # shown at 1 s would come at 1.67 s
    times = [round(i * 1000 / 30) for i in range(30)] + [1000 + 100 * i for i in range(20)]
    source = write_vfr_video(tmp_path / "in.mp4", textured_frames(50), times)
    masks = [box_mask(*MOSAIC_BOX) if 25 <= i < 35 else None for i in range(50)]
    out = tmp_path / "out.mp4"
    result = restore_video(
        source, out, ScriptedDetector(masks), InvertingRestorer(), RestoreSettings(**FAST)
    )
    assert result.restored_frames == 10
    assert frame_times(source) == pytest.approx([t / 1000 for t in times], abs=1e-3)
    assert frame_times(out) == pytest.approx(frame_times(source), abs=1e-3)


def write_ts(path, frames: np.ndarray, start_ms: int):
    """An MPEG-TS of RGB frames at 10 frames/s from ``start_ms``."""
    import av

    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        video.options = {"crf": "10", "preset": "ultrafast", "threads": "1"}
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = start_ms + 100 * i, Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def test_a_picture_size_change_mid_stream_is_scaled_to_the_first_size(tmp_path, caplog):
    first = textured_frames(6)
    second = textured_frames(6, height=HEIGHT // 2, width=WIDTH // 2)
    joined = tmp_path / "joined.ts"  # two recordings joined end to end, as a broadcast does
    joined.write_bytes(
        write_ts(tmp_path / "a.ts", first, 0).read_bytes()
        + write_ts(tmp_path / "b.ts", second, 600).read_bytes()
    )
    masks = [box_mask(*MOSAIC_BOX) if i in (2, 8) else None for i in range(12)]
    out = tmp_path / "out.mp4"
    with caplog.at_level("WARNING"):
        result = restore_video(
            joined, out, ScriptedDetector(masks), InvertingRestorer(), RestoreSettings(**FAST)
        )
    assert result.frames == 12 and (result.width, result.height) == (WIDTH, HEIGHT)
    assert f"the picture changes to {WIDTH // 2}x{HEIGHT // 2} at frame 6" in caplog.text
    assert caplog.text.count("the picture changes") == 1
    restored = decode_rgb(out)
    assert restored.shape == (12, HEIGHT, WIDTH, 3)
    import av
    import cv2

    with av.open(str(joined)) as container:
        source = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    # the first recording comes out as it was (39.8 dB), the second scaled up to the first's
    # size: shrunk back, frame 7 is its own source frame (24.5 dB, 10-20 dB to the others)
    assert psnr(restored[0], source[0]) > 35
    shrunk = cv2.resize(restored[7], (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA)
    scores = [psnr(shrunk, frame) for frame in source[6:]]
    assert scores[1] == max(scores) and scores[1] > 22, scores
