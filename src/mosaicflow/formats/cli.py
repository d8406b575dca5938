"""``mosaicflow convert ...``: label format converters on the command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name (comma-separated)")
    return names


def _labelme_to_yolo(args: argparse.Namespace) -> int:
    from mosaicflow.formats.dataset import labelme_to_yolo_dataset

    result = labelme_to_yolo_dataset(
        args.train,
        args.val or [],
        args.labels,
        args.out,
        args.seed,
        empty_flag=args.empty_flag or None,
        val_fraction=args.val_fraction,
        task=args.task,
    )
    for split, counts in result.counts.items():
        print(f"{split}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"wrote {result.data_yaml}")
    return 0


def _yolo_to_labelme(args: argparse.Namespace) -> int:
    from mosaicflow.formats.yolo import yolo_to_labelme

    result = yolo_to_labelme(
        args.images, args.labels, args.names, args.out, args.embed, args.empty_flag or None
    )
    print(f"wrote {result.images} labelme files with {result.shapes} shapes to {result.out_dir}")
    return 0


def _masks_to_coco(args: argparse.Namespace) -> int:
    from mosaicflow.formats.coco import masks_to_coco

    result = masks_to_coco(args.masks, args.categories, args.out, args.images)
    print(f"wrote {result.path}: {result.images} images, {result.annotations} annotations")
    return 0


def _coco_to_yolo(args: argparse.Namespace) -> int:
    from mosaicflow.formats.coco import coco_to_yolo

    result = coco_to_yolo(args.coco, args.names, args.out, task=args.task, image_dir=args.images)
    print(
        f"wrote {result.images} label files ({result.instances} instances, "
        f"{result.crowd_skipped} crowd annotations skipped) to {result.out_dir}"
    )
    return 0


def _add_labelme_to_yolo(verbs: argparse._SubParsersAction) -> None:
    """Add the ``labelme-to-yolo`` verb."""
    p = verbs.add_parser(
        "labelme-to-yolo",
        help="labelme folders -> ultralytics dataset (train/val images+labels, data.yaml)",
        description=(
            "Build an ultralytics-ready dataset: OUT/{train,val}/{images,labels}, OUT/data.yaml "
            "(absolute paths, class names) and OUT/provenance.json. Shapes of the given labels "
            "become class ids in that order; rectangles and circles become polygons; frames "
            "flagged with --empty-flag or without target shapes get empty label files. Without "
            "--val the train files are split by source video (file stem without its frame "
            "number), seeded and stratified by empty/non-empty."
        ),
    )
    p.add_argument(
        "--train",
        type=Path,
        action="append",
        required=True,
        metavar="DIR",
        help="labelme folder of the train split (repeatable)",
    )
    p.add_argument(
        "--val",
        type=Path,
        action="append",
        metavar="DIR",
        help="labelme folder of the val split (repeatable)",
    )
    p.add_argument(
        "--labels",
        type=_names,
        required=True,
        metavar="A,B",
        help="target labels, comma-separated; class ids follow this order",
    )
    p.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    p.add_argument(
        "--empty-flag",
        default="sfw",
        help="labelme flag of frames without targets ('' to disable; default sfw)",
    )
    p.add_argument(
        "--task",
        choices=("segment", "detect"),
        default="segment",
        help="polygon (segment) or box (detect) labels (default segment)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split without --val")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="fraction of files in val without --val (default 0.2)",
    )
    p.set_defaults(func=_labelme_to_yolo)


def _add_yolo_to_labelme(verbs: argparse._SubParsersAction) -> None:
    """Add the ``yolo-to-labelme`` verb."""
    p = verbs.add_parser(
        "yolo-to-labelme",
        help="YOLO labels (e.g. predictions) -> editable labelme polygons",
        description=(
            "Write OUT/<stem>.json for every image in IMAGES (plus a copy of the image), with one "
            "polygon per YOLO line (segmentation polygon or detection box). Use it for "
            "model-assisted pre-labelling, then correct the polygons in labelme."
        ),
    )
    p.add_argument("--images", type=Path, required=True, help="folder of images")
    p.add_argument("--labels", type=Path, required=True, help="folder of <stem>.txt labels")
    p.add_argument(
        "--names",
        type=_names,
        required=True,
        metavar="A,B",
        help="class names, comma-separated (class id i -> i-th name)",
    )
    p.add_argument("--out", type=Path, required=True, help="labelme folder to write")
    p.add_argument("--embed", action="store_true", help="embed images as imageData")
    p.add_argument(
        "--empty-flag", default="", help="set this flag on images without labels (default: none)"
    )
    p.set_defaults(func=_yolo_to_labelme)


def _add_masks_to_coco(verbs: argparse._SubParsersAction) -> None:
    """Add the ``masks-to-coco`` verb."""
    p = verbs.add_parser(
        "masks-to-coco",
        help="binary mask PNGs -> COCO instance segmentation JSON",
        description=(
            "One annotation per connected component: a polygon for components without holes, "
            "compressed RLE for components with holes; area, bbox, iscrowd=0. With one "
            "category the masks are MASKS/<stem>.png, with several MASKS/<category>/<stem>.png."
        ),
    )
    p.add_argument("--masks", type=Path, required=True, help="folder of 0/255 mask PNGs")
    p.add_argument(
        "--categories",
        type=_names,
        required=True,
        metavar="A,B",
        help="category names, comma-separated (ids 1, 2, ...)",
    )
    p.add_argument("--out", type=Path, required=True, help="COCO JSON file to write")
    p.add_argument("--images", type=Path, help="folder of the matching images (file_name)")
    p.set_defaults(func=_masks_to_coco)


def _add_coco_to_yolo(verbs: argparse._SubParsersAction) -> None:
    """Add the ``coco-to-yolo`` verb."""
    p = verbs.add_parser(
        "coco-to-yolo",
        help="COCO instances JSON -> YOLO segmentation or detection labels",
        description=(
            "Write OUT/labels/<stem>.txt for every COCO image (empty without annotations) and, "
            "with --images, copy the images to OUT/images. Class ids follow --names (not COCO "
            "ids); each polygon's part inside the image is kept, normalised to [0, 1]; holes "
            "are joined to the outer contour by zero-width bridges; iscrowd annotations are "
            "skipped."
        ),
    )
    p.add_argument("--coco", type=Path, required=True, help="COCO instances JSON")
    p.add_argument(
        "--names",
        type=_names,
        required=True,
        metavar="A,B",
        help="class names, comma-separated; categories are matched by name",
    )
    p.add_argument("--out", type=Path, required=True, help="folder to write")
    p.add_argument(
        "--task",
        choices=("segment", "detect"),
        default="segment",
        help="polygon (segment) or box (detect) labels (default segment)",
    )
    p.add_argument("--images", type=Path, help="folder holding the COCO file_names (copied)")
    p.set_defaults(func=_coco_to_yolo)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand and its verbs."""
    convert = subparsers.add_parser(
        "convert",
        help="convert labels between labelme, YOLO, COCO and binary masks",
        description=(
            "Exact label converters. Polygons are in pixel-edge coordinates (labelme, COCO) or "
            "normalised to [0, 1] (YOLO). Outputs are written atomically; a bad input fails "
            "naming the file and writes nothing."
        ),
    )
    verbs = convert.add_subparsers(dest="verb", metavar="VERB", required=True)
    _add_labelme_to_yolo(verbs)
    _add_yolo_to_labelme(verbs)
    _add_masks_to_coco(verbs)
    _add_coco_to_yolo(verbs)
