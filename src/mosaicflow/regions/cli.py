"""``mosaicflow prelabel``: segmenter predictions as labelme JSON to correct instead of draw."""

from __future__ import annotations

import argparse
from pathlib import Path


def _prelabel(args: argparse.Namespace) -> int:
    from mosaicflow.regions.prelabel import prelabel_images

    result = prelabel_images(
        Path(args.model),
        Path(args.input),
        Path(args.output),
        conf=args.conf,
        imgsz=args.imgsz,
        device=args.device,
        threads=args.threads,
    )
    print(f"prelabel: {result.images} images, {result.shapes} polygons -> {args.output}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prelabel`` subcommand."""
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
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.set_defaults(func=_prelabel)
