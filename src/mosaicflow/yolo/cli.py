"""The YOLO models' subcommands: ``mosaicflow prelabel`` (segmenter predictions as labelme JSON
to correct instead of draw) and ``mosaicflow detect`` (per-frame mosaic masks of a video and an
overlay video)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mosaicflow.cli_args import thread_count


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prelabel`` and ``detect`` subcommands."""
    _register_prelabel(subparsers)
    _register_detect(subparsers)


def _prelabel(args: argparse.Namespace) -> int:
    from mosaicflow.yolo.prelabel import prelabel_images

    result = prelabel_images(
        Path(args.model),
        Path(args.input),
        Path(args.output),
        conf=args.conf,
        imgsz=args.imgsz,
        device=args.device,
        threads=args.threads,
        origin="--model",
    )
    print(f"prelabel: {result.images} images, {result.shapes} polygons -> {args.output}")
    if result.kept:
        print(f"prelabel: kept {len(result.kept)} labelme files you changed since: "
              f"{', '.join(result.kept)}")  # fmt: skip
    return 0


def _register_prelabel(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prelabel",
        help="write labelme JSON predictions of a region segmenter for a folder of images",
        description=(
            "Run a YOLO segmentation model on every image of --input and write the image and a "
            "labelme JSON of its predicted polygons to --output, to correct in labelme instead of "
            "drawing from scratch (each shape's description holds the model's score)."
        ),
    )
    parser.add_argument("--model", required=True, help="segmenter weights (.pt)")
    parser.add_argument("--input", required=True, help="folder of images")
    parser.add_argument("--output", required=True, help="labelme folder to write")
    parser.add_argument("--conf", type=float, default=0.25, help="minimum score (default 0.25)")
    parser.add_argument("--imgsz", type=int, default=640, help="inference size (default 640)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=thread_count, default=2, help="CPU threads (default 2)")
    parser.set_defaults(func=_prelabel)


def detection_threshold(weights: Path, conf: float | None) -> tuple[float, str]:
    """:func:`~mosaicflow.yolo.card.resolve_conf`, a malformed ``model.json`` beside
    ``weights`` an error naming it.

    Raises:
        ValueError: the card is not an object whose ``threshold.conf`` is a number.
    """
    from mosaicflow.yolo.card import resolve_conf

    try:
        return resolve_conf(weights, conf)
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        card = weights.with_name("model.json")
        raise ValueError(f"{card}: not a model card with a numeric threshold.conf ({err}); "
                         "give --conf or fix the file") from err  # fmt: skip


def _detect(args: argparse.Namespace) -> int:
    from mosaicflow.yolo.detect import detect_mosaics

    conf, source = detection_threshold(Path(args.model), args.conf)
    print(f"detect: threshold {conf} ({source})", file=sys.stderr)
    result = detect_mosaics(
        Path(args.model), Path(args.video), Path(args.out), conf=conf, iou=args.iou,
        imgsz=args.imgsz, device=args.device, batch=args.batch, threads=args.threads,
        origin="--model",
    )  # fmt: skip
    print(
        f"detect: {result.frames} frames, {result.frames_with_mosaic} with a mosaic, "
        f"{result.mosaics} mosaics -> {args.out}/mosaics.parquet, {args.out}/overlay.mp4"
    )
    return 0


def _register_detect(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find the mosaics (pixelated regions) of a video with a trained mosaic detector",
        description=(
            "Run the mosaic detector (results/models/detector/best.pt) on every frame of VIDEO. "
            "Writes OUT/mosaics.parquet (per-frame RLE masks in the regions.parquet format), "
            "OUT/overlay.mp4 (the masks drawn over the video) and OUT/summary.json. Exit code "
            "2 for a file that is not a YOLO segmentation model or a video that cannot be decoded."
        ),
    )
    parser.add_argument("video", help="the video file")
    parser.add_argument("--model", required=True, help="mosaic detector weights (.pt or .onnx)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--conf",
        type=float,
        default=None,
        help="minimum score (default: the threshold chosen on validation, from model.json "
        "beside the model, else 0.25)",
    )
    parser.add_argument("--iou", type=float, default=0.5, help="NMS IoU (default 0.5)")
    parser.add_argument("--imgsz", type=int, default=640, help="inference size (default 640)")
    parser.add_argument("--batch", type=int, default=16, help="frames per batch (default 16)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=thread_count, default=2, help="CPU threads (default 2)")
    parser.set_defaults(func=_detect)
