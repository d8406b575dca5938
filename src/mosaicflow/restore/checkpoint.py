"""The resumable checkpoint of a restoration stage: ``last.pt`` in its work folder.

It holds the networks, optimizers, schedulers, iteration, loss/validation history and the
Python, numpy and torch RNG states (as weights-only types), written atomically every
``checkpoint_every`` iterations and at the end; on CPU a killed run that resumes ends with the
same weights, bit for bit, as one that was never interrupted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mosaicflow.io import save_torch
from mosaicflow.restore.errors import TrainingError
from mosaicflow.restore.weights import read_checkpoint

CHECKPOINT_VERSION = 1
LAST = "last.pt"


def rng_state() -> dict[str, Any]:
    """Python, numpy (global) and torch (CPU and CUDA) RNG states, as weights-only types."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = state["numpy"]
    np.random.set_state((np_state[0], np.asarray(np_state[1], dtype=np.uint32), *np_state[2:]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def stage_config_dict(stage_cfg: Any) -> dict[str, Any]:
    """The stage config as a plain JSON dict (tuples as lists)."""
    return json.loads(json.dumps(asdict(stage_cfg)))


def load_last(work_dir: Path, stage: str, identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The checkpoint ``<work_dir>/last.pt`` if there is one; checks its stage and identity.

    Raises:
        TrainingError: the checkpoint belongs to another stage or identity (names the file).
    """
    path = work_dir / LAST
    if not path.is_file():
        return None
    state = read_checkpoint(path)
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise TrainingError(f"{path}: not a mosaicflow training checkpoint (version 1)")
    if state.get("stage") != stage:
        raise TrainingError(f"{path}: checkpoint of {state.get('stage')!r}, not {stage!r}")
    if _plain(state.get("identity")) != _plain(dict(identity)):
        raise TrainingError(
            f"{path}: checkpoint of another training (settings, data, seed or start); use a "
            "fresh work folder"
        )
    return state


def _plain(obj: Any) -> Any:
    """``obj`` as plain JSON values (tuples as lists), for comparing identities."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def save_last(work_dir: Path, state: Mapping[str, Any]) -> None:
    """Write ``<work_dir>/last.pt`` atomically."""
    save_torch(dict(state), work_dir / LAST)
