"""``mosaicflow review``: bring a clip review's verdicts, or corrected labelme frames, back into a
run; ``mosaicflow sort``: order clips or region crops by how they look.

``mosaicflow review import EXPORT...`` reads Label Studio exports (files or folders of
``*.json``) of the tasks that rule export_review wrote, checks every clip against the run's
restoration dataset and merges the verdicts into ``results/review/verdicts.parquet``. The next
``snakemake`` run drops the clips with a drop verdict from the training index (reason
``review``) and reruns only what depends on it; the next ranking learns from the verdicts.

``mosaicflow review frames VIDEO... --model M --out DIR`` picks the frames of each video a
labeller should see first (where the model flickers, loses a track it sees elsewhere, is unsure,
or disagrees with ``--second-model``) and writes a page per video; ``mosaicflow review
frames-export SELECTION... --out LABELME_DIR`` turns the pages' exports into a labelme folder of
the ticked frames with the model's regions as pre-labels.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from mosaicflow.cli_args import thread_count

SORT_DESCRIPTION = """Sort the kept clips of a restoration dataset (--clips, each shown by its
middle frame and mask) or a folder of region crops (--images, masks of the same stem from
--masks) by one key: blur (sharpest first), motion-blur (least first), brightness (brightest
first), hue (ascending), black (share of black pixels, least first), size (region pixels,
largest first), edge (share of frames cut off by the frame edge, least first), source-quality
(clips only, scored by a run with quality.enabled: poorest source first), hist (similar items
side by side), or best (with --best N: the sharpest --pool x N, then the N most
dissimilar). Writes sorted.tsv, sorted.parquet and sheet.png (the items in order) into --out;
the inputs are never changed."""


#: ``sort --pool`` unless given.
POOL_DEFAULT = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``review`` and ``sort`` subcommands."""
    register_sort(subparsers)
    parser = subparsers.add_parser(
        "review", help="import clip review verdicts (Label Studio exports)", description=__doc__
    )
    commands = parser.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    imports = commands.add_parser(
        "import",
        help="merge Label Studio exports into results/review/verdicts.parquet",
        description=(
            "Check Label Studio exports (files, or folders of *.json) of the review tasks "
            "against the run's restoration dataset and merge their keep/drop verdicts into "
            "results/review/verdicts.parquet; an import that changes nothing writes nothing."
        ),
    )
    imports.add_argument("exports", nargs="+", type=Path, help="export files or folders")
    imports.add_argument("--results", type=Path, default=Path("results"), help="a run's results/")
    imports.set_defaults(func=run_import)
    labels = commands.add_parser(
        "import-labels",
        help="merge corrected labelme frames into results/review/label_overrides/",
        description=(
            "Check a corrected copy of results/review/labelme/ (the frames rule "
            "find_label_issues flagged, edited in labelme) against its export.json and the "
            "training frames, and keep the frames whose shapes changed as overrides of the "
            "region training set (results/review/label_overrides/); an import that changes "
            "nothing writes nothing. The next run rebuilds the region dataset with them."
        ),
    )
    labels.add_argument("folder", type=Path, help="the edited labelme folder")
    labels.add_argument("--results", type=Path, default=Path("results"), help="a run's results/")
    labels.set_defaults(func=run_import_labels)
    register_frames(commands)


def run_import(args: argparse.Namespace) -> int:
    """Import the verdicts; print what changed."""
    from mosaicflow.curate.review_import import import_review
    from mosaicflow.outputs import check_apart
    from mosaicflow.plan import paths

    results = Path(args.results)
    dataset = results / Path(paths.RESTORATION_DATASET).relative_to(paths.RESULTS)
    review = results / Path(paths.REVIEW_DIR).relative_to(paths.RESULTS)
    for written in ("verdicts.parquet", "verdicts.json"):
        check_apart(review / written, args.exports)
    if not (dataset / "index.parquet").is_file():
        raise ValueError(f"{dataset}: no restoration dataset (run the workflow first)")
    result = import_review(args.exports, review, dataset)
    return _report("verdicts", result, review / "verdicts.parquet")


def run_import_labels(args: argparse.Namespace) -> int:
    """Import corrected labelme frames; print what changed."""
    from mosaicflow.curate.label_import import import_labels
    from mosaicflow.outputs import check_apart
    from mosaicflow.plan import paths

    results = Path(args.results)
    overrides = results / Path(paths.LABEL_OVERRIDES).relative_to(paths.RESULTS)
    check_apart(overrides, [args.folder])
    result = import_labels(args.folder, overrides, run_dir=Path(os.path.abspath(results)).parent)
    return _report("label overrides", result, overrides)


FRAMES_DESCRIPTION = """Pick the frames of each video a labeller should see first and write a
static page per video into --out (open --out/index.html in a browser). The model runs on every
--stride-th frame at --lowest; frames are flagged where a region appears on one frame alone or a
track misses a single frame (flicker), where a track the model sees at --confident or more is
missing or weak on other frames (partial_track), where a region scores between --lowest and
--conf (low_confidence), and where the two models' regions overlap at IoU below
--disagree-iou (disagree). The --count frames of highest priority per video, --min-spacing
sampled frames apart, are written as JPEGs with the model's regions (scored --conf or more) as
labelme pre-labels. On a page: j/k or the arrows step, x or space ticks, o hides the overlays,
e exports the ticked frames as <video>-selection.json for `mosaicflow review frames-export`."""


def register_frames(commands: argparse._SubParsersAction) -> None:
    """Add ``review frames`` and ``review frames-export``."""
    frames = commands.add_parser(
        "frames",
        help="pages of the frames a labeller should see first",
        description=FRAMES_DESCRIPTION,
    )
    frames.add_argument("videos", nargs="+", type=Path, help="video files or folders of videos")
    frames.add_argument("--model", type=Path, required=True, help="segmenter or detector (.pt)")
    frames.add_argument("--second-model", type=Path, help="a second model to compare with")
    frames.add_argument("--out", type=Path, required=True, help="output folder of the pages")
    frames.add_argument("--count", type=int, default=24, help="frames per video at most")
    frames.add_argument("--min-spacing", type=int, default=5, help="sampled frames between picks")
    frames.add_argument("--conf", type=float, default=0.25, help="score of a found region")
    frames.add_argument("--confident", type=float, default=0.6, help="score of a confident region")
    frames.add_argument("--lowest", type=float, default=0.1, help="lowest score looked at")
    frames.add_argument(
        "--disagree-iou", type=float, default=0.5, help="IoU below which two models disagree"
    )
    frames.add_argument(
        "--max-gap", type=int, default=5, help="sampled frames a track may miss and go on"
    )
    frames.add_argument("--stride", type=int, default=1, help="predict every N-th frame")
    frames.add_argument("--max-frames", type=int, help="predict at most N frames per video")
    frames.add_argument(
        "--imgsz", type=int, help="inference size in pixels (default: the model's training size)"
    )
    frames.add_argument("--device", default="auto", help="auto|cpu|cuda:N")
    frames.add_argument("--threads", type=thread_count, default=1, help="CPU threads")
    frames.set_defaults(func=run_frames)
    export = commands.add_parser(
        "frames-export",
        help="the frames ticked on review pages as a labelme folder",
        description=(
            "Check the selection files that `mosaicflow review frames` pages exported against "
            "their pages and copy the ticked frames' JPEGs and labelme pre-labels into --out: "
            "correct them in labelme, then copy the .jpg and .json files into "
            "source.labelme_train."
        ),
    )
    export.add_argument("selections", nargs="+", type=Path, help="<video>-selection.json files")
    export.add_argument("--out", type=Path, required=True, help="the labelme folder to write")
    export.add_argument(
        "--pages", type=Path, help="the pages' folder (--out of review frames), if it moved"
    )
    export.set_defaults(func=run_frames_export)


def run_frames(args: argparse.Namespace) -> int:
    """Write the review pages; print where."""
    from mosaicflow.curate.hard_frame_page import ModelSettings, review_frames
    from mosaicflow.curate.hard_frames import Thresholds

    result = review_frames(
        args.videos,
        args.model,
        args.out,
        second_model=args.second_model,
        count=args.count,
        min_spacing=args.min_spacing,
        thresholds=Thresholds(
            found=args.conf,
            confident=args.confident,
            max_gap=args.max_gap,
            disagree_iou=args.disagree_iou,
        ),
        settings=ModelSettings(
            lowest=args.lowest,
            imgsz=args.imgsz,
            device=args.device,
            threads=args.threads,
            stride=args.stride,
            max_frames=args.max_frames,
        ),
    )
    print(
        f"{result.frames_picked} frames to look at ({result.frames_flagged} flagged of "
        f"{result.frames_predicted} predicted, {result.videos} videos): "
        f"{result.out_dir / 'index.html'}"
    )
    return 0


def run_frames_export(args: argparse.Namespace) -> int:
    """Export the ticked frames; print where."""
    from mosaicflow.curate.hard_frame_export import export_selections

    result = export_selections(args.selections, args.out, args.pages)
    print(f"{result.frames} frames, {result.shapes} pre-labelled regions: {result.out_dir}")
    return 0


def _report(what: str, result: Any, where: Path) -> int:
    """Print what an import changed (its counts, the new version) or that it changed nothing."""
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    if result.changed:
        print(f"{what} version {result.version} ({counts}): {where}")
    else:
        print(f"no change ({what} version {result.version}; {counts})")
    return 0


def register_sort(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sort`` subcommand."""
    from mosaicflow.curate.sorting import KEYS

    parser = subparsers.add_parser(
        "sort", help="sort clips or region crops (blur, brightness, best N...)",
        description=SORT_DESCRIPTION,
    )  # fmt: skip
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--clips", type=Path, help="a restoration dataset folder")
    source.add_argument("--images", type=Path, help="a folder of crops")
    parser.add_argument("--masks", type=Path, help="masks of the crops (same stems)")
    parser.add_argument("--by", required=True, choices=[*KEYS, "hist", "best"], help="sort key")
    parser.add_argument("--best", type=int, help="items kept by --by best")
    parser.add_argument(
        "--pool", type=int, default=POOL_DEFAULT, help="--by best: sharpest pool x N first"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder of the sorted outputs")
    parser.set_defaults(func=run_sort)


def run_sort(args: argparse.Namespace) -> int:
    """Load the items, sort them, write the outputs."""
    from mosaicflow.curate.sort_jobs import clip_items, folder_items, write_sorted
    from mosaicflow.outputs import claim_output_dir
    from mosaicflow.writing import writing_into

    if args.masks and not args.images:
        raise ValueError("--masks goes with --images")
    if args.by != "best" and (args.best is not None or args.pool != POOL_DEFAULT):
        raise ValueError(f"--best and --pool go with --by best, not --by {args.by}")
    inputs = [args.clips, args.images, args.masks]
    claim_output_dir(args.out, "sort", inputs)
    items = clip_items(args.clips) if args.clips else folder_items(args.images, args.masks)
    with writing_into(args.out, "sort", inputs):
        table = write_sorted(items, args.by, args.out, n=args.best, pool=args.pool)
    print(f"{len(table)} items sorted by {args.by}: {args.out / 'sorted.tsv'}, sheet.png")
    return 0
