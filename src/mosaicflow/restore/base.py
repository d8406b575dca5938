"""The restorer base: the demo's network trained longer on a world of its own, shipped in
``resources/restorer-base/`` so the demo's stage 1 can start from it
(``restoration.init_weights: base``).

``make restorer-base`` trains it with the workflow itself (``config/config.yaml`` layered with
``config/pretrain.yaml``, in ``.pretrain-work/``) and then runs this module, which copies the
exported generator and writes its card: the configs, the world's seed and videos, the
generator's hash and size, and the restorer's own card (iterations, validation curves against
the input and blur baselines).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from mosaicflow.config import REPO_ROOT
from mosaicflow.shipped import CONFIGS, config_files, merged_config, world_videos

BASE_DIR = REPO_ROOT / "resources" / "restorer-base"
#: The largest base the repository ships (bytes).
MAX_BYTES = 20 * 2**20
CARD_VERSION = 1


def publish_base(
    work_dir: Path, out_dir: Path, configs: Sequence[Path] = CONFIGS, trained_on: str = ""
) -> Path:
    """Copy the generator a ``make restorer-base`` run exported and write its card.

    Args:
        work_dir: the run's working folder (``.pretrain-work``).
        out_dir: ``resources/restorer-base``.
        configs: the config files the run used, in order.
        trained_on: the machine the run trained on (the card's ``trained_on``), if given.

    Returns:
        The card's path.

    Raises:
        ValueError: naming the file when the run's export is missing or larger than
            :data:`MAX_BYTES`.
    """
    from mosaicflow.io import atomic_path, read_json, write_json
    from mosaicflow.provenance import file_hash

    models = Path(work_dir) / "results" / "models" / "restoration"
    weights, card = models / "generator.pth", models / "model.json"
    for path in (weights, card):
        if not path.is_file():
            raise ValueError(f"{path}: missing; run `make restorer-base` (it trains the base)")
    size = weights.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{weights}: {size} bytes, the shipped base may hold {MAX_BYTES}")
    config = merged_config(configs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "generator.pth") as tmp:
        shutil.copyfile(weights, tmp)
    record = {
        "version": CARD_VERSION,
        "command": "make restorer-base",
        "configs": config_files(configs),
        "world": {"seed": config["seed"], "videos": world_videos(config)},
        "generator": {"file": "generator.pth", "sha256": file_hash(weights, 64), "bytes": size},
        "restorer": read_json(card),
    }
    if trained_on:
        record["trained_on"] = trained_on
    write_json(out_dir / "card.json", record)
    return out_dir / "card.json"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mosaicflow.restore.base WORK_DIR [OUT_DIR]``: publish a trained base."""
    parser = argparse.ArgumentParser(prog="python -m mosaicflow.restore.base")
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("out_dir", type=Path, nargs="?", default=BASE_DIR)
    parser.add_argument(
        "--trained-on", default="", help="the machine the base trained on, for its card"
    )
    args = parser.parse_args(argv)
    try:
        print(publish_base(args.work_dir, args.out_dir, trained_on=args.trained_on))
    except ValueError as error:
        print(f"restorer base: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
