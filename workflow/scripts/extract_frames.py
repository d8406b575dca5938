"""Decode one video, drop near-duplicates, cut scenes, sample (rule extract_frames)."""

from pathlib import Path

from mosaicflow.config import build
from mosaicflow.plan.runtime import runtime_setting, setup
from mosaicflow.video.config import FramesConfig
from mosaicflow.video.frames import extract_frames_or_reject

log = setup(snakemake)
threads = runtime_setting(snakemake, "frames.decode_threads")
result = extract_frames_or_reject(
    build(FramesConfig, {**snakemake.params.frames, "decode_threads": threads}),
    Path(snakemake.input.video),
    Path(snakemake.output.index),
    Path(snakemake.output.probe),
    on_error=snakemake.params.on_error,
    video_id=snakemake.wildcards.video,
)
log.info("%s: %s", snakemake.input.video, result)
