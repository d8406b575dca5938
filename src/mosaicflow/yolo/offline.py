"""Ultralytics without network: a per-run config folder, local fonts, rule-sized threads, and
restricted checkpoint loading (:func:`require_safe_load`).

Ultralytics reads ``YOLO_CONFIG_DIR`` and ``YOLO_OFFLINE`` when it is imported, so
:func:`prepare_ultralytics` must run before the first ``import ultralytics`` of the process (the
rule scripts call it first thing). Its settings file then lives in the run's folder under
``results/``, never in ``~/.config/Ultralytics``; the dataset check finds ``Arial.ttf`` and
``Arial.Unicode.ttf`` there (copies of matplotlib's DejaVuSans) instead of downloading them.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from mosaicflow.threads import set_threads
from mosaicflow.vision_import import import_torchvision

log = logging.getLogger(__name__)

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
#: Weights ultralytics' AMP check loads on CUDA (downloaded when missing: we never let it).
AMP_CHECK_WEIGHTS = "yolo26n.pt"
#: Ultralytics' switch for ``torch.load(weights_only=True)`` of every checkpoint it loads.
SAFE_LOAD_ENV = "ULTRALYTICS_SAFE_LOAD"


def _font_source() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def prepare_ultralytics(config_dir: str | os.PathLike[str], threads: int) -> Any:
    """Import ultralytics offline, with its config folder in ``config_dir`` and ``threads`` threads.

    Args:
        config_dir: the run's ultralytics config folder (created; fonts copied into it).
        threads: CPU threads for torch (ultralytics would use ``cpu_count - 1``).

    Returns:
        The imported ``ultralytics`` module.

    Raises:
        RuntimeError: ultralytics was already imported with its config in the user's home.
    """
    config_dir = Path(config_dir).resolve()
    user_dir = config_dir / "Ultralytics"  # ultralytics' USER_CONFIG_DIR below YOLO_CONFIG_DIR
    user_dir.mkdir(parents=True, exist_ok=True)
    for folder in (config_dir, user_dir):
        for name in FONT_NAMES:
            if not (folder / name).is_file():
                shutil.copyfile(_font_source(), folder / name)
    if "torch" not in sys.modules:
        # OpenMP threads that spin-wait at every barrier collapse when the cores are shared
        # (another job, another user): measured 22 s instead of 0.4 s per training step.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "ultralytics" not in sys.modules:
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
        os.environ["YOLO_OFFLINE"] = "true"  # only the string "true" counts
    require_safe_load()
    import_torchvision()  # before ultralytics imports it: torch._dynamo stays unloaded
    import ultralytics
    import ultralytics.utils as uutils

    current = Path(uutils.USER_CONFIG_DIR).resolve()
    if "YOLO_CONFIG_DIR" not in os.environ:
        raise RuntimeError(
            "ultralytics was imported before prepare_ultralytics(): its settings would land in "
            f"{current}; set YOLO_CONFIG_DIR before importing it"
        )
    current.mkdir(parents=True, exist_ok=True)  # a long-lived process may have lost it
    for name in FONT_NAMES:  # the font check looks in ultralytics' USER_CONFIG_DIR
        if not (current / name).is_file():
            shutil.copyfile(_font_source(), current / name)
    # written to the run folder only; anything ultralytics would put elsewhere stays there too
    uutils.SETTINGS.update(
        {
            "sync": False,
            "runs_dir": str(config_dir / "runs"),
            "weights_dir": str(config_dir / "weights"),
            "datasets_dir": str(config_dir / "datasets"),
        }
    )
    limit_threads(threads)
    return ultralytics


def require_safe_load() -> None:
    """Make ultralytics load every checkpoint with its restricted unpickler in this process
    (and the processes it starts).

    Ultralytics reads ``ULTRALYTICS_SAFE_LOAD`` into ``ultralytics.utils.SAFE_LOAD`` when it is
    imported, and ``ultralytics.nn.tasks`` (which loads checkpoints) keeps its own binding of it
    from its import: where either is imported already, its flag is set too.
    """
    os.environ[SAFE_LOAD_ENV] = "1"
    for name in ("ultralytics.utils", "ultralytics.nn.tasks"):
        module = sys.modules.get(name)
        if module is not None:
            module.SAFE_LOAD = True


def limit_threads(threads: int) -> None:
    """:func:`~mosaicflow.threads.set_threads`, kept after ultralytics'
    ``select_device`` too (which resets torch to ``cpu_count - 1`` threads, one on a 2-core
    machine, unless its ``NUM_THREADS`` says otherwise)."""
    import ultralytics.utils.torch_utils as torch_utils

    set_threads(threads)
    torch_utils.NUM_THREADS = max(1, int(threads))  # read by select_device() at every run


def pin_threads(model: Any, threads: int) -> None:
    """Keep ``model``'s training at ``threads`` torch threads: ultralytics' trainer resets them
    in ``select_device`` while it sets up, so they are set again before and after that."""
    for event in ("on_pretrain_routine_start", "on_train_start"):
        model.add_callback(event, lambda trainer: limit_threads(threads))


def amp_allowed(device: str) -> bool:
    """AMP on CUDA only when the AMP-check weights are local (else the check would download)."""
    if device == "cpu":
        return False
    import ultralytics.utils as uutils

    weights_dir = Path(uutils.SETTINGS.get("weights_dir", "."))
    return any(p.is_file() for p in (Path(AMP_CHECK_WEIGHTS), weights_dir / AMP_CHECK_WEIGHTS))
