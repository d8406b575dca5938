"""``mosaicflow quality``: score source videos with a trained source-quality classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicflow.cli_args import thread_count

DESCRIPTION = """Score whole videos with a source-quality classifier (a run's
results/models/quality/quality.pt): --frames frames spread over each video, each scored on five
crops at full resolution, as the workflow scores its clips. Writes quality.parquet and
quality.tsv into --out, one row per video, poorest first: source_quality (mean P(clean) of the
frames, 0-1), source_quality_min, poor_share (share of frames below 0.5), source_quality_resize
(one resize of the frame, for comparison) and, for a video that cannot be read, the error.
Videos are files or folders (searched recursively); nothing is changed in them."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quality`` subcommand."""
    parser = subparsers.add_parser(
        "quality",
        help="score source videos with a trained source-quality classifier, poorest first",
        description=DESCRIPTION,
    )
    parser.add_argument("videos", nargs="+", type=Path, help="video files or folders")
    parser.add_argument(
        "--weights", type=Path, required=True, help="the classifier (a run's quality.pt)"
    )
    parser.add_argument("--frames", type=int, default=16, help="frames scored per video")
    parser.add_argument(
        "--threads", type=thread_count, default=1, help="CPU threads of the classifier"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder of the tables")
    parser.set_defaults(func=run_quality)


def run_quality(args: argparse.Namespace) -> int:
    """Find the videos, score them, write and summarise the tables."""
    from mosaicflow.io import atomic_path, write_parquet
    from mosaicflow.outputs import claim_output_dir
    from mosaicflow.quality.score import QualityScorer
    from mosaicflow.quality.survey import find_videos, survey_videos
    from mosaicflow.threads import set_threads
    from mosaicflow.writing import writing_into

    if args.frames < 1:
        raise ValueError(f"--frames {args.frames}: must be at least 1")
    if not args.weights.is_file():
        raise FileNotFoundError(f"--weights {args.weights}: no such file")
    claim_output_dir(args.out, "quality", [*args.videos, args.weights])
    # each file once, however it is named (a link, a relative path), by its own name first
    by_file = {}
    for path in sorted(find_videos(args.videos), key=lambda p: (p.is_symlink(), str(p))):
        by_file.setdefault(path.resolve(), path)
    videos = sorted(by_file.values())
    if not videos:
        raise ValueError(f"no video files in {', '.join(map(str, args.videos))}")
    scorer = QualityScorer(args.weights)
    set_threads(args.threads)
    table = survey_videos(videos, scorer.scores, args.frames)
    with writing_into(args.out, "quality", [*args.videos, args.weights]):
        write_parquet(args.out / "quality.parquet", table)
        with atomic_path(args.out / "quality.tsv") as tmp:
            table.to_csv(tmp, sep="\t", index=False)
    failed = int((table["error"] != "").sum())
    print(f"{len(table) - failed} videos scored, {failed} unreadable: {args.out / 'quality.tsv'}")
    for row in table.head(5).itertuples():
        if not row.error:
            print(f"  {row.source_quality:.3f}  {row.video}")
    return 0
