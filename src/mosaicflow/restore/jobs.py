"""The restoration rules' entry points: stage 1, convert, stage 2 and export on the clip dataset.

Each function takes its rule's typed job (:class:`~mosaicflow.restore.config.Stage1Job`,
``ConvertJob``, ``Stage2Job``, ``ExportJob``, which the rule's script builds from its params
with :func:`~mosaicflow.restore.config.job_of`), the typed ``mosaic`` section and the clip
index, and writes the rule's outputs. Training state lives in ``<work root>/<stage>-<hash>/``,
the hash covering the job's settings, the seed and the training data, so a killed job resumes
from its last checkpoint and a changed setting starts a fresh folder.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaicflow.config import canonical, stable_hash
from mosaicflow.mosaic.config import MosaicConfig
from mosaicflow.provenance import file_hash
from mosaicflow.restore.config import ConvertJob, ExportJob, Stage1Job, Stage2Job, job_settings
from mosaicflow.restore.records import StageResult

LOG = logging.getLogger(__name__)


def data_hash(index_parquet: Path) -> str:
    """Hash of the clip index (16 hex): the clips, their splits and their metadata paths."""
    return file_hash(index_parquet)


def clip_weights(train: Any, balance_parquet: Path) -> list[float]:
    """The sampling weight of every training clip of ``train`` (a MosaicClipDataset), in its
    order, from a ``balance_clips`` weights.parquet.

    Raises:
        ValueError: a training clip the weights do not list (weights of another index).
    """
    import pandas as pd

    table = pd.read_parquet(balance_parquet, columns=["clip", "sample_weight"])
    weights = dict(zip(table["clip"], table["sample_weight"], strict=True))
    missing = [clip for clip in train.rows["clip"] if clip not in weights]
    if missing:
        raise ValueError(
            f"{balance_parquet}: no weight for {len(missing)} training clips (first "
            f"{missing[0]}); the weights are of another clip index"
        )
    return [float(weights[clip]) for clip in train.rows["clip"]]


def clip_sets(
    index_parquet: Path, mosaic: MosaicConfig, num_frames: int, size: int, seed: int
) -> tuple[Any, Any]:
    """The training set (``train`` split, random) and validation set (``val``, repeatable; None
    without val clips) of :class:`~mosaicflow.datasets.clips.MosaicClipDataset`.

    Raises:
        ValueError: no training clips (names the index).
    """
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.datasets.clips.torch_dataset import MosaicClipDataset

    index = read_index(index_parquet)
    root = Path(index_parquet).parent
    common = {"num_frames": num_frames, "size": size, "mosaic_cfg": mosaic}
    train = MosaicClipDataset(index, root, seed=seed, train=True, split="train", **common)
    if len(train) == 0:
        raise ValueError(
            f"{index_parquet}: no kept clips in the train split; the restoration model has "
            "nothing to train on (see the index's status/reason columns)"
        )
    # the validation mosaics use their own seed, never the training draws
    val = MosaicClipDataset(index, root, seed=seed + 1, train=False, split="val", **common)
    LOG.info("restoration clips: %d train, %d val", len(train), len(val))
    return train, (val if len(val) else None)


def stage_identity(
    params: Mapping[str, Any], seed: int, data: str, **depends: Any
) -> dict[str, Any]:
    """What a training stage depends on: its params and the rest (``depends``: the mosaic
    section, the start's hash, the code, the balance weights' hash), the seed and the data."""
    return {"p": {"r": dict(params), **depends}, "seed": seed, "data": data}


def work_dir(work_root: Path, stage: str, identity: Mapping[str, Any]) -> Path:
    """``<work_root>/<stage>-<hash of the identity>``."""
    return Path(work_root) / f"{stage}-{stable_hash(dict(identity))}"


def run_stage(
    job: Stage1Job | Stage2Job,
    mosaic: MosaicConfig,
    index_parquet: Path,
    weights_out: Path,
    metrics_out: Path,
    work_root: Path,
    *,
    seed: int,
    device: str,
    init: Path | None = None,
    balance: Path | None = None,
    code: str = "",
    num_workers: int = 0,
) -> StageResult:
    """Train a stage on the clip dataset (rules ``train_restoration_stage1`` and ``..._stage2``).

    Args:
        job: the stage's typed job (:class:`Stage1Job` or :class:`Stage2Job`).
        mosaic: the ``mosaic`` section (the training mosaics).
        index_parquet: the clip index.
        weights_out: the stage's weights.
        metrics_out: the stage's record (JSON).
        work_root: where the stage's work folder goes: ``<stage>-<hash>``, the hash covering
            the job's settings (:func:`~mosaicflow.restore.config.job_settings`), the mosaic
            section, the seed, the data, the code and (stage 2) the initial model; a run
            resumes only from a checkpoint of the same training.
        seed: seed of the initialisation, the sample order and the training mosaics.
        device: ``auto``, ``cpu`` or ``cuda:N``.
        init: stage 2's initial model (the output of ``convert_restoration``).
        balance: the clips' sampling weights (``balance_clips``); None = shuffled passes.
        code: the rule's code hash (a code change starts the training afresh).
        num_workers: DataLoader worker processes (``restoration.num_workers``, a speed setting:
            no part of the work folder's hash).

    Returns:
        The stage's :class:`~mosaicflow.restore.records.StageResult`.
    """
    from mosaicflow.restore.loop import StageRun
    from mosaicflow.restore.stage1 import train_stage1
    from mosaicflow.restore.stage2 import train_stage2

    stage = "stage1" if isinstance(job, Stage1Job) else "stage2"
    if (stage == "stage2") != (init is not None):
        raise ValueError("stage 2, and only stage 2, starts from an initial model (init)")
    s = getattr(job, stage)
    data = data_hash(index_parquet)
    train, val = clip_sets(index_parquet, mosaic, s.num_frames, s.size, seed)
    weights = clip_weights(train, balance) if balance is not None else None
    depends: dict[str, Any] = {"m": canonical(dataclasses.asdict(mosaic))}
    if init is not None:
        depends["init"] = file_hash(init)
    if code:
        depends["code"] = code
    if balance is not None:  # the weights are part of the training data
        depends["balance"] = file_hash(balance)
        data = f"{data}+balance:{depends['balance'][:16]}"
    identity = stage_identity(job_settings(job), seed, data, **depends)
    run = StageRun(
        train, val, work_dir(work_root, stage, identity), weights_out, seed, device, metrics_out,
        data, weights, num_workers, identity,
    )  # fmt: skip
    if isinstance(job, Stage1Job):
        return train_stage1(job, run)
    assert init is not None
    return train_stage2(job, init, run)


def run_convert(job: ConvertJob, stage1: Path, out: Path, *, seed: int) -> Path:
    """Stage-1 generator -> stage-2 initial model (rule ``convert_restoration``)."""
    from mosaicflow.restore.export import convert

    return convert(job, stage1, out, seed=seed)


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What ``export_restoration`` wrote: the inference generator and its model card."""

    weights: Path
    card_path: Path
    #: The model card as written (``mosaicflow.restore.export.export``'s document).
    card: dict[str, Any]

    @property
    def final_validation(self) -> dict[str, Any] | None:
        """The last validation of the last trained stage, as the card records it."""
        return self.card["final_validation"]

    @property
    def notes(self) -> list[str]:
        """Both stages' notes (a missing perceptual network, a cut budget, ...)."""
        return self.card["notes"]


def run_export(
    job: ExportJob,
    stage2: Path,
    weights_out: Path,
    card_out: Path,
    *,
    stage1_metrics: Path,
    stage2_metrics: Path,
    index_parquet: Path,
    code: str,
) -> ExportResult:
    """The EMA generator for inference and its model card (rule ``export_restoration``)."""
    from mosaicflow.restore.export import export

    card = export(
        job, stage2, weights_out, card_out,
        stage1_metrics=stage1_metrics, stage2_metrics=stage2_metrics,
        data_hash=data_hash(index_parquet), config_hash=stable_hash(job_settings(job)),
        code_hash=code,
    )  # fmt: skip
    return ExportResult(weights_out, card_out, card)
