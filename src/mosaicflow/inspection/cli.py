"""``mosaicflow inspect``: a run's datasets and the detector's predictions in the FiftyOne App.

The detector runs here (the workflow's environment); the datasets are loaded and served by
:mod:`mosaicflow.inspection.app` in the FiftyOne environment (``make inspect-env``), whose
interpreter is ``--python``, else ``$MOSAICFLOW_INSPECT_PYTHON``, else the repository's
``.venv-inspect/bin/python``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

#: The variable naming the FiftyOne environment's interpreter.
PYTHON_ENV_VAR = "MOSAICFLOW_INSPECT_PYTHON"


def inspect_python(given: str | None = None) -> Path:
    """The FiftyOne environment's interpreter (see the module docstring).

    Raises:
        ValueError: saying how to make the environment when there is none.
    """
    repo_env = Path(__file__).resolve().parents[3] / ".venv-inspect" / "bin" / "python"
    candidate = Path(given or os.environ.get(PYTHON_ENV_VAR) or repo_env)
    if not candidate.is_file():
        raise ValueError(
            f"no FiftyOne environment at {candidate}: run `make inspect-env` in the repository "
            f"(or point --python / ${PYTHON_ENV_VAR} at a Python with fiftyone installed)"
        )
    return candidate


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` subcommand."""
    parser = subparsers.add_parser(
        "inspect",
        help="open a run's detection dataset, predictions and clips in the FiftyOne App",
        description=__doc__,
    )
    parser.add_argument("--results", type=Path, default=Path("results"), help="a run's results/")
    parser.add_argument("--name", default="mosaicflow", help="prefix of the FiftyOne datasets")
    parser.add_argument("--address", default="127.0.0.1", help="address the App listens on")
    parser.add_argument("--port", type=int, default=5151, help="port the App listens on")
    parser.add_argument("--no-predictions", action="store_true", help="skip the detector")
    parser.add_argument(
        "--splits", default="val,test", help="detection splits the detector predicts (comma list)"
    )
    parser.add_argument("--device", default="auto", help="device of the detector (auto|cpu|cuda:N)")
    parser.add_argument("--python", help="the FiftyOne environment's interpreter")
    parser.add_argument("--no-app", action="store_true", help="load and summarise, then exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict and write clip previews (both cached), then hand over to the FiftyOne
    environment; returns its exit code."""
    from mosaicflow.plan import paths

    results = Path(args.results).resolve()
    if not results.is_dir():
        raise ValueError(f"{results}: no results folder (run the workflow first)")
    detector = _under(results, paths.model_files("detector")["weights"])
    dataset = _under(results, paths.DETECTION_DATASET)
    splits = [s for s in args.splits.split(",") if s]
    if dataset.is_dir() and (unknown := [s for s in splits if not (dataset / s).is_dir()]):
        known = sorted(p.name for p in dataset.iterdir() if (p / "images").is_dir())
        raise ValueError(f"--splits: {unknown} not in {dataset} (its splits: {known})")
    python = inspect_python(args.python)
    command = [str(python), "-m", "mosaicflow.inspection.app", "--results", str(results)]
    command += ["--name", args.name, "--address", args.address, "--port", str(args.port)]
    if not args.no_predictions and detector.is_file() and dataset.is_dir():
        from mosaicflow.inspection.predictions import predict_images

        predictions = predict_images(
            detector,
            dataset,
            results / "inspect",
            splits=splits,
            imgsz=_detector_imgsz(detector),
            device=args.device,
        )
        command += ["--predictions", str(predictions)]
    clips = _under(results, paths.RESTORATION_INDEX)
    if clips.is_file():
        from mosaicflow.inspection.previews import write_previews
        from mosaicflow.io import write_parquet

        table = write_previews(clips.parent, results / "inspect" / "previews")
        write_parquet(results / "inspect" / "previews.parquet", table)
        command += ["--previews", str(results / "inspect" / "previews.parquet")]
    if args.no_app:
        command.append("--no-app")
    try:
        return subprocess.run(command, check=False).returncode
    except KeyboardInterrupt:
        return 130


def _under(results: Path, workflow_path: str) -> Path:
    """A workflow output path (``results/...``) inside the given results folder."""
    from mosaicflow.plan import paths

    return results / Path(workflow_path).relative_to(paths.RESULTS)


def _detector_imgsz(weights: Path) -> int:
    """The image size the detector was trained at (its card's ``imgsz``), 640 without a card."""
    from mosaicflow.io import read_json

    card = weights.with_name("model.json")
    if not card.is_file():
        return 640
    value = read_json(card).get("imgsz")
    return int(value) if value else 640
