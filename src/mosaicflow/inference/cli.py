"""``mosaicflow restore``: restore the mosaics of a video with a detector and a restorer."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from mosaicflow.cli_args import thread_count
from mosaicflow.inference.pipeline import DEFAULT_OVERLAP, RestoreSettings, model_threads
from mosaicflow.video.encoders import CODECS

_DEFAULTS = RestoreSettings()
#: Clips restored per forward pass on CUDA unless ``--clip-batch`` says otherwise.
CUDA_CLIP_BATCH = 4


@contextlib.contextmanager
def _library_output_on_stderr() -> Iterator[None]:
    """Send what libraries print while the command works (ultralytics' model summary, its log
    handler) to stderr, so that stdout carries the command's JSON summary alone."""
    moved = [
        handler
        for handler in logging.getLogger("ultralytics").handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout
    ]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        # ultralytics imported in here binds its log handler to this stream for good
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for handler in moved:
            handler.setStream(sys.stdout)


def _restore(args: argparse.Namespace) -> int:
    with _library_output_on_stderr():
        summary = _restore_video(args)
    if summary is None:
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "settings"}))
    return 0


def _restore_video(args: argparse.Namespace) -> dict | None:
    """Restore ``args.input``; the summary, or None after a failure in a running stage."""
    from mosaicflow.inference.detector import YoloDetector
    from mosaicflow.inference.pipeline import check_outputs, restore_video
    from mosaicflow.inference.restorer import BasicVSRRestorer
    from mosaicflow.inference.stages import StageError
    from mosaicflow.io import write_json
    from mosaicflow.video.decode import probe_video
    from mosaicflow.yolo.cli import detection_threshold

    source, target = Path(args.input), Path(args.output)
    inputs = [source, args.detector, args.restorer, args.restorer_card]
    check_outputs(target, args.masks_out, args.summary, inputs=inputs)
    probe_video(source)  # fails fast, naming the file, before any model is loaded
    # the detector first: its classes (--classes) are checked before the restorer loads
    conf, conf_source = detection_threshold(Path(args.detector), args.conf)
    print(f"restore: detector threshold {conf} ({conf_source})", file=sys.stderr)
    detector = YoloDetector(
        args.detector,
        device=args.device,
        conf=conf,
        imgsz=args.imgsz,
        half=args.fp16 or args.precision == "fp16",
        threads=args.threads or model_threads(not args.serial),
        origin="--detector",
        classes=args.classes,
    )
    print(f"restore: classes {', '.join(detector.classes.values())}", file=sys.stderr)
    restorer = BasicVSRRestorer(
        args.restorer,
        card=args.restorer_card,
        device=args.device,
        precision=args.precision or ("fp16" if args.fp16 else "fp32"),
        frames_per_call=args.frames_per_call,
        cuda_graphs=args.cuda_graphs,
    )
    cuda = restorer.device.type == "cuda"
    settings = RestoreSettings(
        max_clip_frames=args.max_clip_frames,
        max_gap_frames=args.max_gap_frames,
        batch=args.batch,
        crf=args.crf,
        preset=args.preset,
        codec=args.codec,
        encoder_threads=args.encoder_threads,
        reproducible=args.reproducible,
        clip_overlap_frames=args.clip_overlap,
        clip_batch=(CUDA_CLIP_BATCH if cuda else 1) if args.clip_batch is None else args.clip_batch,
        pipelined=not args.serial,
    )
    try:
        result = restore_video(
            source,
            target,
            detector,
            restorer,
            settings,
            masks_out=args.masks_out,
            progress=not args.no_progress,
        )
    except StageError as err:  # the run started: not a usage error (exit 2)
        print(f"mosaicflow restore: error: {source}: {err}", file=sys.stderr)
        return None
    summary = {**result.to_dict(), "classes": list(detector.classes.values())}
    if args.summary:
        write_json(args.summary, summary)
    return summary


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the video, model and device arguments of ``restore``."""
    parser.add_argument("input", help="the video to restore")
    parser.add_argument("output", help="the restored video (H.264 or HEVC; .mp4 or .mkv)")
    parser.add_argument("--detector", required=True, help="mosaic detector (YOLO-seg .pt)")
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="CLASS",
        help="the detector classes to restore (default: every class but censored faces and "
        "heads, mosaic_face and Lada's mosaic_sfw_head, which stay as they are)",
    )
    parser.add_argument("--restorer", required=True, help="BasicVSR++ generator weights")
    parser.add_argument(
        "--restorer-card",
        help="the restorer's model.json (default: model.json beside the weights, if it names "
        "them; else the size is read from the weights and crops are 256 px)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the detector and restorer settings of ``restore``."""
    parser.add_argument(
        "--max-clip-frames",
        type=int,
        default=_DEFAULTS.max_clip_frames,
        help="longest clip restored at once (bounds memory)",
    )
    parser.add_argument(
        "--max-gap-frames",
        type=int,
        default=_DEFAULTS.max_gap_frames,
        help="frames a tracked mosaic may go undetected and still be restored there, with the "
        "masks around the gap (0: only detected frames are restored)",
    )
    parser.add_argument("--fp16", action="store_true", help="half precision on CUDA")
    parser.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16"),
        help="restorer autocast on CUDA (default: fp16 with --fp16, else fp32; the CPU runs fp32)",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="replay the restorer's forward of recurring clip shapes from CUDA graphs",
    )
    parser.add_argument(
        "--clip-batch",
        type=int,
        default=None,
        help=f"clips of equal length restored per forward pass (default: {CUDA_CLIP_BATCH} on "
        "CUDA, 1 on the CPU); frames wait until that many clips ended, so memory grows with it",
    )
    parser.add_argument(
        "--clip-overlap",
        type=int,
        default=None,
        help="frames two clips of a track cut at --max-clip-frames share and crossfade over "
        f"(default: {DEFAULT_OVERLAP}, at most half a clip)",
    )
    parser.add_argument(
        "--batch", type=int, default=_DEFAULTS.batch, help="frames per detector call"
    )
    parser.add_argument(
        "--frames-per-call",
        type=int,
        default=None,
        help="frames per restorer forward pass (default: the whole clip)",
    )
    parser.add_argument(
        "--conf",
        type=float,
        default=None,
        help="detector threshold (default: the one chosen on validation, from model.json "
        "beside the detector, else 0.25)",
    )
    parser.add_argument(
        "--imgsz", type=int, default=None, help="detector input size (default: its training size)"
    )


def _add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the encoder settings of ``restore``."""
    parser.add_argument(
        "--crf", type=int, default=_DEFAULTS.crf, help="x264 CRF of the output (0 = lossless)"
    )
    parser.add_argument(
        "--preset", default=_DEFAULTS.preset, help="x264 preset (NVENC: the matching p1-p7)"
    )
    parser.add_argument(
        "--codec",
        choices=CODECS,
        default=_DEFAULTS.codec,
        help="output encoder; auto: h264_nvenc with --device cuda when the GPU offers it, "
        "else libx264",
    )
    parser.add_argument(
        "--reproducible",
        action="store_true",
        help="single-thread libx264 with mbtree off: byte-identical output on every run "
        "(slower; what the workflow's evaluation uses)",
    )
    parser.add_argument(
        "--encoder-threads",
        type=int,
        default=_DEFAULTS.encoder_threads,
        help="x264 threads (0: every core)",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the threading, side-output and progress arguments of ``restore``."""
    parser.add_argument(
        "--serial",
        action="store_true",
        help="run decode, detect, restore, blend and encode one after another instead of "
        "in overlapping threads (same output)",
    )
    parser.add_argument(
        "--threads",
        type=thread_count,
        default=None,
        help="CPU threads of torch (default: every core)",
    )
    parser.add_argument(
        "--masks-out", help="write the per-frame detections here (regions.parquet format)"
    )
    parser.add_argument("--summary", help="write the run's summary JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``restore`` subcommand."""
    parser = subparsers.add_parser(
        "restore",
        help="restore the mosaics of a video (detect, restore clips, blend, encode)",
        description=(
            "Detect the mosaic in every frame with a YOLO segmentation model, restore clips of "
            "the tracked regions with a BasicVSR++ generator, blend them back and encode the "
            "video at the source's frame rate with its audio and subtitle tracks. Frames without "
            "detection are encoded from their decoded pixels unchanged."
        ),
    )
    _add_input_arguments(parser)
    _add_model_arguments(parser)
    _add_encoder_arguments(parser)
    _add_run_arguments(parser)
    parser.set_defaults(func=_restore)
