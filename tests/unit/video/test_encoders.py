"""The output encoder: multi-threaded x264 by default, the reproducible one on request, NVENC
only where the GPU opens it (else a logged fallback, or an error when asked for by name)."""

from __future__ import annotations

import logging

import pytest

from mosaicflow.video.encoders import (
    EncoderError,
    EncoderSettings,
    choose_encoder,
    codec_opens,
    cpu_cores,
    nvenc_options,
)
from mosaicflow.video.x264 import REPRODUCIBLE_X264_OPTIONS


@pytest.fixture
def no_nvenc() -> None:
    """Skips where NVENC opens (an NVIDIA machine): its fallbacks are not taken there."""
    if codec_opens("h264_nvenc") is None:
        pytest.skip("NVENC opens here")


def test_the_default_encode_uses_every_core():
    encoder = choose_encoder(EncoderSettings(crf=20, preset="fast"), gpu=False)
    assert encoder.codec == "libx264"
    assert encoder.options == {"crf": "20", "preset": "fast", "threads": str(cpu_cores())}
    pinned = choose_encoder(EncoderSettings(threads=3), gpu=False)
    assert pinned.options["threads"] == "3"


def test_reproducible_is_the_single_thread_encode_without_mbtree():
    encoder = choose_encoder(EncoderSettings(crf=20, reproducible=True), gpu=True)
    assert encoder.codec == "libx264" and encoder.reason == "auto: reproducible"
    assert encoder.options == {"crf": "20", "preset": "medium", **REPRODUCIBLE_X264_OPTIONS}
    with pytest.raises(EncoderError, match="h264_nvenc is not reproducible"):
        EncoderSettings(codec="h264_nvenc", reproducible=True)


@pytest.mark.usefixtures("no_nvenc")
def test_auto_on_a_gpu_without_nvenc_falls_back_to_x264_with_a_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="mosaicflow.video.encoders"):
        encoder = choose_encoder(EncoderSettings(), gpu=True)
    assert encoder.codec == "libx264" and encoder.reason == "auto: NVENC not available"
    assert "h264_nvenc is not available" in caplog.text


@pytest.mark.usefixtures("no_nvenc")
@pytest.mark.parametrize("codec", ["h264_nvenc", "hevc_nvenc"])
def test_nvenc_asked_for_by_name_where_it_cannot_open_is_an_error(codec):
    assert codec_opens(codec) is not None
    with pytest.raises(EncoderError, match=f"{codec} cannot be opened here"):
        choose_encoder(EncoderSettings(codec=codec), gpu=True)


def test_x264_opens_and_unknown_settings_are_refused():
    assert codec_opens("libx264") is None
    for bad, match in [({"codec": "vp9"}, "unknown codec"), ({"preset": "p4"}, "unknown preset")]:
        with pytest.raises(EncoderError, match=match):
            EncoderSettings(**bad)  # type: ignore[arg-type]


def test_nvenc_maps_crf_and_preset_to_constant_quality():
    assert nvenc_options(EncoderSettings(crf=23, preset="slow")) == {
        "preset": "p5",
        "tune": "hq",
        "rc": "vbr",
        "cq": "23",
        "b": "0",
    }
    assert nvenc_options(EncoderSettings(crf=0, preset="veryfast")) == {
        "preset": "p2",
        "tune": "lossless",
    }


def test_the_encoder_is_tried_at_the_video_s_size_with_its_options():
    assert nvenc_options(EncoderSettings(crf=0), gpu=1)["gpu"] == "1"  # the restorer's GPU
    assert codec_opens("libx264", (320, 192), {"preset": "fast"}) is None
    why = codec_opens("libx264", (320, 192), {"preset": "no-such-preset"})
    assert why is not None  # an option the encoder refuses fails the check, not frame 0
    assert codec_opens("libx264", (0, 0)) is not None  # nor a size it cannot take
