"""The model card: the training record (``train.json``) plus test metrics -> ``model.json``,
and the stage's metrics file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mosaicflow.io import read_json, write_json
from mosaicflow.provenance import provenance
from mosaicflow.yolo.spec import TrainSpec, plain

if TYPE_CHECKING:
    from mosaicflow.yolo.dataset import DatasetInfo
    from mosaicflow.yolo.fit import YoloTrainResult

#: Bump when the layout of ``train.json`` / ``model.json`` changes.
MODEL_JSON_VERSION = 2


def training_record(
    model: str,
    spec: TrainSpec,
    result: YoloTrainResult,
    *,
    config: Any,
    code: str,
    names: dict[int, str],
    metrics: dict[str, Any],
    dataset: DatasetInfo | None,
    state_key: str,
    device: str,
    threads: int,
    start: Mapping[str, Any] | None = None,
    budget: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The training record (``train.json``): provenance, class names, val metrics, how training
    went; :func:`write_model_card` adds the test metrics.

    Args:
        model: the model's name.
        spec: the training spec used (``cpu_precision`` resolved).
        result: what training did.
        config: what the model's config says about training (recorded and hashed).
        code: the training rule's code hash.
        names: class names stored in the weights.
        metrics: ``{"val": ...}`` or empty (given weights without a dataset).
        dataset: the training set, or None.
        state_key: the work folder's name.
        device, threads: what training ran on.
        start: what training started from (kind, file, sha256).
        budget: the budget's figures (:meth:`mosaicflow.yolo.budget.Budget.record`: optimizer
            ``steps`` taken, ``images_seen``, ``epochs_planned`` and ``epochs_from``, plus
            ``train_instances`` and the log's ``warnings``); None when nothing was trained
            (``steps`` 0).
    """
    figures = dict(budget) if budget else {"steps": 0, "images_seen": 0, "epochs_from": None}
    return provenance(
        config=plain(config),
        code=code,
        counts=dataset.counts if dataset else {},
        extra={
            "model": model,
            "task": spec.task,
            "names": {str(k): v for k, v in sorted(names.items())},
            "imgsz": spec.imgsz,
            "metrics": metrics,
            "data_hash": dataset.data_hash if dataset else None,
            "state_key": state_key,
            "training": {
                "start": dict(start) if start else None,
                "source": result.source,
                "resumed_at_epoch": result.resumed_at_epoch,
                "epochs_planned": spec.epochs,
                "epochs_run": result.epochs_run,
                **figures,
                "time_cap_minutes": spec.time_minutes or None,
                "time_capped": result.time_capped,
                "device": device,
                "threads": threads,
                "cpu_precision": spec.cpu_precision,
                "train_args": spec.train_args(),
            },
            "model_json_version": MODEL_JSON_VERSION,
        },
    )


def write_model_card(
    train_json: Path,
    test_metrics: dict[str, Any] | None,
    model_json: Path,
    metrics_json: Path,
    *,
    code: str,
    pr_curves: dict[str, Any] | None = None,
    threshold: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``model.json`` (training record + test metrics) and ``results/metrics/<stage>.json``.

    Args:
        train_json: the training record written by :func:`run_training`.
        test_metrics: metrics on the demo world's test videos, or None (no ground truth).
        model_json: the model's sidecar to write.
        metrics_json: the stage's metrics file to write.
        code: the evaluation rule's code hash (recorded as ``evaluation_code_hash``).
        pr_curves: the test precision-recall curves (``iou``, ``recall``, ``precision`` per
            mask/box and class), kept in ``model.json`` only; None leaves them out.
        threshold: the inference threshold and how it was chosen (``conf``, ``source``:
            ``validation`` or ``config``, the validation figures), written to both files;
            inference reads ``threshold.conf`` from the card (:func:`card_threshold`).
    """
    record = read_json(train_json)
    if record.get("model_json_version") != MODEL_JSON_VERSION:
        raise ValueError(
            f"{train_json}: training record version {record.get('model_json_version')}"
        )
    if test_metrics is not None:
        record["metrics"]["test"] = test_metrics
    record["evaluation_code_hash"] = code
    if pr_curves is not None:
        record["pr_curves"] = pr_curves
    metrics = {"model": record["model"], **record["metrics"]}
    if threshold is not None:
        record["threshold"] = metrics["threshold"] = threshold
    write_json(metrics_json, metrics)
    write_json(model_json, record)
    return record


#: The threshold of a detector without a card that records one (ultralytics' default).
DEFAULT_CONF = 0.25


def card_threshold(card: Path) -> float | None:
    """The inference threshold a model card records (``model.json``'s ``threshold.conf``,
    chosen on validation for the mosaic detector), or None when it records none."""
    threshold = read_json(card).get("threshold") or {}
    return float(threshold["conf"]) if "conf" in threshold else None


def resolve_conf(weights: Path, conf: float | None) -> tuple[float, str]:
    """The detection threshold to use and where it comes from: ``conf`` when given, else the
    one recorded by the card beside ``weights`` (``model.json``), else :data:`DEFAULT_CONF`."""
    if conf is not None:
        return float(conf), "given"
    card = Path(weights).with_name("model.json")
    chosen = card_threshold(card) if card.is_file() else None
    if chosen is not None:
        return chosen, f"{card} threshold.conf"
    return DEFAULT_CONF, "default"
