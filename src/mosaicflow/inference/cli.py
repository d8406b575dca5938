"""``mosaicflow restore``: restore the mosaics of a video with a detector and a restorer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mosaicflow.inference.pipeline import RestoreSettings

_DEFAULTS = RestoreSettings()


def _restore(args: argparse.Namespace) -> int:
    from mosaicflow.inference.detector import YoloDetector
    from mosaicflow.inference.pipeline import restore_video
    from mosaicflow.inference.restorer import BasicVSRRestorer
    from mosaicflow.io import write_json
    from mosaicflow.video.decode import probe_video
    from mosaicflow.yolo.card import resolve_conf

    source, target = Path(args.input), Path(args.output)
    probe_video(source)  # fails fast, naming the file, before any model is loaded
    if target.resolve() == source.resolve():
        raise ValueError(f"{target}: the output must not overwrite the input")
    settings = RestoreSettings(
        max_clip_frames=args.max_clip_frames,
        max_gap_frames=args.max_gap_frames,
        batch=args.batch,
        crf=args.crf,
        preset=args.preset,
    )
    restorer = BasicVSRRestorer(
        args.restorer,
        card=args.restorer_card,
        device=args.device,
        fp16=args.fp16,
        frames_per_call=args.frames_per_call,
    )
    conf, conf_source = resolve_conf(Path(args.detector), args.conf)
    print(f"restore: detector threshold {conf} ({conf_source})", file=sys.stderr)
    detector = YoloDetector(
        args.detector,
        device=args.device,
        conf=conf,
        imgsz=args.imgsz,
        half=args.fp16,
        threads=args.threads,
    )
    result = restore_video(
        source,
        target,
        detector,
        restorer,
        settings,
        masks_out=args.masks_out,
        progress=not args.no_progress,
    )
    if args.summary:
        write_json(args.summary, result.to_dict())
    print(json.dumps({k: v for k, v in result.to_dict().items() if k != "settings"}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``restore`` subcommand."""
    parser = subparsers.add_parser(
        "restore",
        help="restore the mosaics of a video (detect, restore clips, blend, encode)",
        description=(
            "Detect the mosaic in every frame with a YOLO segmentation model, restore clips of "
            "the tracked regions with a BasicVSR++ generator, blend them back and encode the "
            "video at the source's frame rate with its audio copied. Frames without detection "
            "are encoded from their decoded pixels unchanged."
        ),
    )
    parser.add_argument("input", help="the video to restore")
    parser.add_argument("output", help="the restored video (x264; .mp4 or .mkv)")
    parser.add_argument("--detector", required=True, help="mosaic detector (YOLO-seg .pt)")
    parser.add_argument("--restorer", required=True, help="BasicVSR++ generator weights")
    parser.add_argument(
        "--restorer-card",
        help="the restorer's model.json (default: model.json beside the weights, if it names "
        "them; else the size is read from the weights and crops are 256 px)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
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
    parser.add_argument(
        "--crf", type=int, default=_DEFAULTS.crf, help="x264 CRF of the output (0 = lossless)"
    )
    parser.add_argument("--preset", default=_DEFAULTS.preset, help="x264 preset")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="CPU threads of torch"
    )
    parser.add_argument(
        "--masks-out", help="write the per-frame detections here (regions.parquet format)"
    )
    parser.add_argument("--summary", help="write the run's summary JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_restore)
