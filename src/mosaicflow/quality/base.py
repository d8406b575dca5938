"""The source-quality base: the classifier trained longer, on more frames, on a world of its
own, shipped in ``resources/quality-base/`` so that a run fine-tunes it on its own videos
(``quality.init_weights: base``) instead of training from random weights.

``make quality-base`` trains it with the workflow itself (``config/config.yaml`` layered with
``config/pretrain.yaml``, in ``.pretrain-work/``) and then runs this module, which copies the
classifier and writes its card: the configs, the world's seed and videos, the weights' hash and
size, and the classifier's own card (its training keys, loss curve and validation).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from mosaicflow.config import REPO_ROOT
from mosaicflow.shipped import CONFIGS, config_files, merged_config, world_videos

BASE_DIR = REPO_ROOT / "resources" / "quality-base"
#: The largest base the repository ships (bytes).
MAX_BYTES = 1 << 20
CARD_VERSION = 1


def publish_base(
    work_dir: Path, out_dir: Path, configs: Sequence[Path] = CONFIGS, trained_on: str = ""
) -> Path:
    """Copy the classifier a ``make quality-base`` run trained and write its card.

    Args:
        work_dir: the run's working folder (``.pretrain-work``).
        out_dir: ``resources/quality-base``.
        configs: the config files the run used, in order.
        trained_on: the machine the run trained on (the card's ``trained_on``), if given.

    Returns:
        The card's path.

    Raises:
        ValueError: naming the file when the run's classifier is missing, not a classifier,
            started from other weights, or larger than :data:`MAX_BYTES`.
    """
    from mosaicflow.io import atomic_path, read_json, write_json
    from mosaicflow.provenance import file_hash
    from mosaicflow.quality.score import read_classifier

    models = Path(work_dir) / "results" / "models" / "quality"
    weights, card = models / "quality.pt", models / "card.json"
    for path in (weights, card):
        if not path.is_file():
            raise ValueError(f"{path}: missing; run `make quality-base` (it trains the base)")
    size = weights.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{weights}: {size} bytes, the shipped base may hold {MAX_BYTES}")
    read_classifier(weights)
    classifier = read_json(card)
    if classifier["config"].get("init_weights"):
        raise ValueError(
            f"{card}: the classifier started from other weights; a base starts "
            "from random weights (quality.init_weights: random)"
        )
    config = merged_config(configs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "quality.pt") as tmp:
        shutil.copyfile(weights, tmp)
    record = {
        "version": CARD_VERSION,
        "command": "make quality-base",
        "configs": config_files(configs),
        "world": {"seed": config["seed"], "videos": world_videos(config)},
        "classifier": {"file": "quality.pt", "sha256": file_hash(weights, 64), "bytes": size},
        "training": classifier,
    }
    if trained_on:
        record["trained_on"] = trained_on
    write_json(out_dir / "card.json", record)
    return out_dir / "card.json"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mosaicflow.quality.base WORK_DIR [OUT_DIR]``: publish a trained base."""
    parser = argparse.ArgumentParser(prog="python -m mosaicflow.quality.base")
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("out_dir", type=Path, nargs="?", default=BASE_DIR)
    parser.add_argument(
        "--trained-on", default="", help="the machine the base trained on, for its card"
    )
    args = parser.parse_args(argv)
    try:
        print(publish_base(args.work_dir, args.out_dir, trained_on=args.trained_on))
    except ValueError as error:
        print(f"quality base: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
