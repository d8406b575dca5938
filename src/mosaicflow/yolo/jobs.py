"""The rule entry points of the YOLO models: ``train_model`` and ``evaluate_model`` (one rule
each, over the ``{model}`` wildcard; :data:`mosaicflow.yolo.models.MODELS` says what differs).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaicflow.io import write_json
from mosaicflow.provenance import file_hash
from mosaicflow.yolo.budget import Budget, budget_warnings, plan_budget
from mosaicflow.yolo.card import training_record, write_model_card
from mosaicflow.yolo.dataset import (
    DatasetInfo,
    label_instances,
    listed_train_images,
    mirror_dataset,
    read_dataset,
    read_repeats,
    with_repeats,
)
from mosaicflow.yolo.export import export_onnx, model_names, validate, write_onnx, write_weights
from mosaicflow.yolo.fit import YoloTrainResult, state_key, train_yolo
from mosaicflow.yolo.models import model_kind, training_keys
from mosaicflow.yolo.spec import TrainSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOutputs:
    """The declared outputs of a training rule."""

    weights: Path
    onnx: Path
    train_json: Path


def run_training(
    spec: TrainSpec,
    stage: str,
    dataset_dir: Path | None,
    outputs: ModelOutputs,
    work_root: Path,
    *,
    config: Any,
    code: str,
    device: str,
    threads: int,
    seed: int,
    init_digest: str = "",
    start: Mapping[str, Any] | None = None,
    balance: Path | None = None,
) -> dict[str, Any]:
    """Train (or take ``spec.weights``), validate on the val split, export; write the record.

    Args:
        spec: training settings.
        stage: the model's name (a ``MODELS`` name; names the model in the record).
        dataset_dir: the YOLO dataset (None only with ``spec.weights``).
        outputs: where best.pt, best.onnx and the training record (``train.json``) go.
        work_root: ``results/<stage>/_work``; the run's state folder is a hash below it.
        config: what the model's config says about training (recorded and hashed).
        code: the rule's code hash.
        device: the config's device (``auto|cpu|cuda:N``).
        threads: the rule's threads.
        seed: the master seed.
        init_digest: digest of ``spec.pretrained`` when it is another model of this run (its
            bytes change between runs under the same path; the state folder must follow).
        start: what training starts from (:func:`start_record`), for the card.
        balance: multipliers of the training images (a ``balance_detection``
            weights.parquet): each is listed that many times; None = each once.

    Returns:
        The training record (the model.json sidecar minus the test metrics).
    """
    from mosaicflow.devices import ultralytics_device
    from mosaicflow.yolo.adapter import prepare_ultralytics
    from mosaicflow.yolo.cpu_training import resolve_cpu_precision

    work_root = Path(work_root).resolve()  # ultralytics nests relative paths in its runs_dir
    dataset = _training_data(stage, spec, dataset_dir, balance)
    dev = ultralytics_device(device)
    spec = dataclasses.replace(
        spec, cpu_precision=resolve_cpu_precision(spec.cpu_precision, dev)
    )  # the state key and the record name the precision used, not "auto"
    kind = model_kind(stage)
    spec, budget = _planned(stage, spec, dataset)
    data = dataset.data_hash if dataset else ""
    key = state_key(spec, data, seed, dev, init=init_digest, code=code)
    section = kind.section  # names a refused checkpoint by its config key
    given = f"{section}.pretrained" if (start or {}).get("kind") == "pretrained" else None
    work_dir = work_root / key
    prepare_ultralytics(work_dir / "yolo_config", threads)
    log.info("%s: state folder %s, device %s, %d threads", stage, work_dir, dev, threads)
    started = time.monotonic()
    if spec.weights:
        result = YoloTrainResult(Path(spec.weights), work_dir, False, None, 0, 0.0, "weights")
    else:
        assert dataset is not None
        result = train_yolo(
            spec, dataset, work_dir, device=dev, threads=threads, seed=seed, origin=given
        )
    names = model_names(
        result.weights, spec.task, origin=f"{section}.weights" if spec.weights else None
    )
    metrics: dict[str, Any] = {}
    if dataset is not None:
        data_yaml = mirror_dataset(dataset, work_dir / "data")
        metrics["val"] = validate(
            result.weights, data_yaml, spec, device=dev, threads=threads, project=work_dir
        )
        log.info("%s val: %s", stage, metrics["val"])
    onnx = export_onnx(result.weights, spec.imgsz, work_dir / "export")
    log.info(
        "%s: %s, %d epochs, training %.0f s, total %.0f s", stage, result.source,
        result.epochs_run, result.seconds, time.monotonic() - started,
    )  # fmt: skip
    figures = _budget_figures(stage, budget, result, dataset) if budget is not None else None
    record = training_record(
        stage, spec, result, config=config, code=code, names=names, metrics=metrics,
        dataset=dataset, state_key=key, device=dev, threads=threads, start=start,
        budget=figures,
    )  # fmt: skip
    write_weights(result.weights, outputs.weights)
    write_onnx(onnx, outputs.onnx)
    write_json(outputs.train_json, record)
    return record


def _training_data(
    stage: str, spec: TrainSpec, dataset_dir: Path | None, balance: Path | None
) -> DatasetInfo | None:
    """The dataset (its training images repeated by ``balance``), None with given weights."""
    dataset = read_dataset(dataset_dir) if dataset_dir is not None else None
    if dataset is None and not spec.weights:
        raise ValueError(f"{stage}: neither a dataset nor weights to use")
    if dataset is not None and balance is not None:
        dataset = with_repeats(dataset, read_repeats(balance), balance)
        log.info("%s: %d training images listed %d times", stage,
                 dataset.counts["train_images"], dataset.counts["train_listed"])  # fmt: skip
    return dataset


def _planned(
    stage: str, spec: TrainSpec, dataset: DatasetInfo | None
) -> tuple[TrainSpec, Budget | None]:
    """The spec with its epochs planned (:func:`~mosaicflow.yolo.budget.plan_budget`) and the
    budget; given weights train nothing and have none."""
    if spec.weights:
        return dataclasses.replace(spec, min_steps=0), None
    if dataset is None:
        return spec, None
    budget = plan_budget(spec, listed_train_images(dataset))
    section = model_kind(stage).section
    log.info(
        "%s: %d epochs (from %s: %s.epochs %d, %s.min_steps %d) of %d training images at "
        "batch %d, %d batch(es) a step: %.1f optimizer steps an epoch, %d in all", stage,
        budget.epochs, budget.epochs_from, section, budget.epochs_configured,
        section, budget.min_steps, budget.images, budget.batch, budget.accumulate,
        budget.steps_per_epoch, budget.steps(),
    )  # fmt: skip
    return budget.spec, budget  # the state key follows the effective epochs


def _budget_figures(
    stage: str, budget: Budget, result: YoloTrainResult, dataset: DatasetInfo | None
) -> dict[str, Any]:
    """The budget's record for the card, with its warnings (logged too)."""
    assert dataset is not None
    kind = model_kind(stage)
    instances = label_instances(dataset)
    figures = {**budget.record(result.epochs_run, result.resumed_at_epoch),
               "train_instances": instances}  # fmt: skip
    figures["warnings"] = budget_warnings(
        stage, kind.section, budget, figures["steps"], instances, kind.more_data
    )
    for warning in figures["warnings"]:
        log.warning(warning)
    return figures


def train_model(
    name: str,
    spec: TrainSpec,
    dataset_dir: Path | None,
    outputs: ModelOutputs,
    work_root: Path,
    *,
    code: str,
    device: str,
    threads: int,
    seed: int,
    init_weights: Path | None = None,
    start_kind: str = "scratch",
    balance: Path | None = None,
) -> dict[str, Any]:
    """Rule ``train_model``: train model ``name`` (resumable) or take its weights, validate,
    export.

    Args:
        name: a :data:`~mosaicflow.yolo.models.MODELS` name.
        spec: its training job (:func:`~mosaicflow.yolo.models.train_job`).
        dataset_dir, outputs, work_root, code, device, threads, seed: see :func:`run_training`.
        init_weights: another model's weights to start from (:func:`~mosaicflow.yolo.models.
            model_init`: the YOLO base or this run's region segmenter); they replace ``model``
            and must not meet a ``pretrained``.
        start_kind: how the model starts (:func:`~mosaicflow.yolo.models.start_kind`), for
            its card.
        balance: see :func:`run_training`.
    """
    if spec.task != model_kind(name).task:
        raise ValueError(f"{name}: the training job is for a {spec.task} model, not the "
                         f"{model_kind(name).task} model {name} is")  # fmt: skip
    config, digest = training_keys(name, spec), ""
    start = start_record(start_kind, spec, init_weights)
    if init_weights is not None:
        if spec.pretrained:
            raise ValueError(
                f"{name}: start weights {init_weights} and pretrained {spec.pretrained}"
            )
        spec = dataclasses.replace(spec, pretrained=str(init_weights))
        digest = start["sha256"][:16]
        log.info("%s: starting from %s (%s)", name, init_weights, digest)
    return run_training(
        spec, name, dataset_dir, outputs, work_root, config=config,
        code=code, device=device, threads=threads, seed=seed, init_digest=digest, start=start,
        balance=balance,
    )  # fmt: skip


def start_record(kind: str, spec: TrainSpec, init_weights: Path | None) -> dict[str, Any]:
    """What training starts from, for the model card: its ``kind`` (base, region_seg,
    pretrained, scratch or weights), the file and its sha256 (the architecture yaml from
    scratch).

    Raises:
        ValueError: when the kind and the files given disagree.
    """
    weights = {"weights": spec.weights, "pretrained": spec.pretrained}.get(kind, init_weights)
    if kind == "scratch":
        weights = None
    if (kind in ("base", "region_seg")) != (init_weights is not None) or (
        kind != "scratch" and not weights
    ):
        raise ValueError(f"start {kind!r} does not match the weights given ({init_weights})")
    if weights is None:
        return {"kind": kind, "model": spec.model}
    return {"kind": kind, "weights": str(weights), "sha256": file_hash(weights, 64)}


def evaluate_model(
    name: str,
    settings: Any,
    weights: Path,
    train_json: Path,
    test_items: list[Path],
    model_json: Path,
    metrics_json: Path,
    pr_curve: Path,
    *,
    code: str,
    device: str,
    threads: int,
    config_dir: Path,
    val_items: list[Path] = (),
    clean_val: list[Path] = (),
    clean_test: list[Path] = (),
) -> dict[str, Any]:
    """Rule ``evaluate_model``: test model ``name`` on every frame, write its card and its
    precision-recall plot (the curves' values go into the card, not into the metrics file).

    Args:
        name: a :data:`~mosaicflow.yolo.models.MODELS` name.
        settings: its test job, the settings its scorer reads
            (:func:`~mosaicflow.yolo.models.test_job`).
        weights: the model's best.pt.
        train_json: its training record.
        test_items: flat (video, truth.mkv, truth.json, ...) list of the demo's test videos;
            empty for user videos (no ground truth: no test metrics).
        model_json, metrics_json, pr_curve: outputs (the last a PNG).
        code, device, threads: the rule's code hash, device and threads.
        config_dir: ultralytics' config folder for this job (under ``results/``).
        val_items, clean_val: for a model whose threshold is chosen on validation (the
            mosaic detector), the mosaicked validation videos (flat triples) and the same
            videos without mosaics; the chosen threshold goes into the card (``threshold``)
            and the test's frame figures are taken at it.
        clean_test: the test videos without mosaics, for the mosaic detector's clean-frame
            false-positive rate and its rate over every test frame without a mosaic.
    """
    from mosaicflow.devices import ultralytics_device
    from mosaicflow.yolo.adapter import prepare_ultralytics
    from mosaicflow.yolo.mosaics import pool_negative_frames
    from mosaicflow.yolo.pr_curves import plot_pr_curves
    from mosaicflow.yolo.scoring import RECALL_GRID, truth_items

    kind = model_kind(name)
    if not isinstance(settings, kind.test_settings):
        raise TypeError(f"{name}: the test job is a {type(settings).__name__}, not the "
                        f"{kind.test_settings.__name__} its scorer reads")  # fmt: skip
    items = truth_items(test_items)
    test, curves, threshold = None, None, None
    runs_model = bool(items or val_items)  # else nothing to predict (user videos)
    if runs_model:
        prepare_ultralytics(config_dir, threads)
    dev = ultralytics_device(device) if runs_model else device
    if kind.calibrate is not None:
        clean = [Path(v) for v in clean_val]
        threshold = kind.calibrate(weights, truth_items(val_items), clean, settings, dev)
        log.info("%s threshold: %s", name, threshold)
        settings = dataclasses.replace(settings, conf=threshold["conf"])
    if items:
        test = kind.test(weights, items, settings, dev)
        if kind.clean_test is not None and clean_test:
            test |= kind.clean_test(weights, [Path(v) for v in clean_test], settings, dev)
        test |= pool_negative_frames(test)
        curves = test.pop("pr_curves", None)
        log.info("%s test: %s", name, test)
    plot_pr_curves(curves, RECALL_GRID, pr_curve, name)
    pr = {"iou": 0.5, "recall": list(RECALL_GRID), "precision": curves} if curves else None
    return write_model_card(
        train_json, test, model_json, metrics_json, code=code, pr_curves=pr, threshold=threshold
    )
