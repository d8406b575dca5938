"""The YOLO models of the workflow: one table entry per model.

Adding a model is its schema section, its config dataclass and one entry in :data:`MODELS`
(and, in the workflow, the dataset it trains on: :mod:`mosaicflow.plan.yolo_models`); the
rules ``train_model`` and ``evaluate_model`` run over a ``{model}`` wildcard whose values are
the table's names, and the outputs are
``results/models/<model>/{best.pt,best.onnx,train.json,model.json}``.

Each rule gets only the keys it reads, so changing an inference key (``regions.conf``) neither
retrains nor re-evaluates a model: training gets the section's :class:`TrainSpec` fields
(:func:`train_params`), evaluation the keys its test scorer reads (:func:`evaluate_params`);
the rule's script builds the typed job from them (:func:`train_job_of`, :func:`test_job_of`).
The params stay a dict of builtins: Snakemake's params trigger compares only those (it skips
any other object), so a dataclass as params would never rerun its job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosaicflow.config import build, canonical
from mosaicflow.yolo.config import DetectorConfig, RegionsConfig, WatermarkConfig
from mosaicflow.yolo.spec import TRAIN_FIELDS, TrainSpec, spec_from_params


@dataclass(frozen=True)
class SegmenterTest:
    """The region segmenter's keys its test reads (scored with the inference NMS IoU)."""

    imgsz: int
    batch: int
    iou: float


@dataclass(frozen=True)
class DetectorTest:
    """The watermark detector's keys its test reads."""

    imgsz: int
    batch: int
    single_cls: bool


@dataclass(frozen=True)
class MosaicDetectorTest:
    """The mosaic detector's keys its threshold choice and test read (``conf`` is the floor of
    the threshold, then the threshold chosen)."""

    imgsz: int
    infer_batch: int
    iou: float
    conf: float
    max_fp_rate: float | None


#: A test scorer: (weights, truth items, its test settings, device) -> metrics.
Scorer = Callable[[Path, list[Any], Any, str], dict[str, Any]]
#: A threshold chooser: (weights, validation truth items, clean validation videos, its test
#: settings, device) -> the threshold record (``conf`` and how it was chosen).
Calibrator = Callable[[Path, list[Any], list[Path], Any, str], dict[str, Any]]


@dataclass(frozen=True)
class ModelKind:
    """What differs between the YOLO models.

    Attributes:
        section: the model's schema section (``config[section]``).
        config: its frozen config dataclass (fields = the section's keys).
        task: ``segment`` or ``detect``.
        test: the scorer on the demo world's test videos.
        test_settings: the dataclass of the section keys ``test`` reads (the evaluation rule's
            params).
        fixed: :class:`TrainSpec` fields the section does not configure.
        calibrate: chooses the inference threshold on the validation videos before the test
            (None: the section's ``conf`` is used as configured).
        clean_test: scores the test videos without mosaics at the inference threshold (the
            mosaic detector's clean-frame false-positive rate; None for the other models).
        more_data: how a user gives the model more training data (its log's advice when it
            trained on too little, :func:`mosaicflow.yolo.budget.budget_warnings`).
    """

    section: str
    config: type
    task: str
    test: Scorer
    test_settings: type
    more_data: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    calibrate: Calibrator | None = None
    clean_test: Callable[[Path, list[Path], Any, str], dict[str, Any]] | None = None

    @property
    def train_keys(self) -> tuple[str, ...]:
        """The section keys training reads: the :class:`TrainSpec` fields of ``config``."""
        names = {f.name for f in dataclasses.fields(self.config)}
        return tuple(name for name in TRAIN_FIELDS if name in names)

    @property
    def test_keys(self) -> tuple[str, ...]:
        """The section keys the test reads: the fields of ``test_settings``."""
        return tuple(f.name for f in dataclasses.fields(self.test_settings))


def _test_segmenter(
    weights: Path, items: list[Any], params: SegmenterTest, device: str
) -> dict[str, Any]:
    from mosaicflow.yolo.scoring import evaluate_segmenter

    # scored with the inference NMS IoU on purpose: the scores describe the stored regions
    return evaluate_segmenter(
        weights, items, imgsz=params.imgsz, device=device, batch=params.batch,
        iou=params.iou,
    )  # fmt: skip


def _test_detector(
    weights: Path, items: list[Any], params: DetectorTest, device: str
) -> dict[str, Any]:
    from mosaicflow.yolo.scoring import evaluate_detector

    return evaluate_detector(
        weights, items, imgsz=params.imgsz, device=device, batch=params.batch,
        single_cls=params.single_cls,
    )  # fmt: skip


def _test_mosaic_detector(
    weights: Path, items: list[Any], params: MosaicDetectorTest, device: str
) -> dict[str, Any]:
    from mosaicflow.yolo.mosaics import evaluate_mosaic_detector

    return evaluate_mosaic_detector(
        weights, items, imgsz=params.imgsz, device=device, batch=params.infer_batch,
        iou=params.iou, conf=params.conf,
    )  # fmt: skip


def _calibrate_mosaic_detector(
    weights: Path, items: list[Any], clean: list[Path], params: MosaicDetectorTest, device: str
) -> dict[str, Any]:
    from mosaicflow.yolo.mosaics import calibrate_mosaic_detector

    if params.max_fp_rate is None or not items:
        return {"source": "config", "conf": float(params.conf)}
    return calibrate_mosaic_detector(
        weights, items, clean, imgsz=params.imgsz, device=device, iou=params.iou,
        floor=params.conf, max_fp_rate=params.max_fp_rate, batch=params.infer_batch,
    )  # fmt: skip


def _clean_mosaic_test(
    weights: Path, videos: list[Path], params: MosaicDetectorTest, device: str
) -> dict[str, Any]:
    from mosaicflow.yolo.mosaics import CLEAN_FLAGS, clean_frame_rate, frame_top_scores

    scores = frame_top_scores(
        weights, videos, imgsz=params.imgsz, device=device, iou=params.iou,
        batch=params.infer_batch,
    )  # fmt: skip
    # the per-frame flags go to pool_negative_frames, not into the card
    return clean_frame_rate(scores, params.conf) | {CLEAN_FLAGS: [s >= params.conf for s in scores]}


#: The one table of YOLO models: name -> what differs.
MODELS: dict[str, ModelKind] = {
    "region_seg": ModelKind(
        section="regions",
        config=RegionsConfig,
        task="segment",
        test=_test_segmenter,
        test_settings=SegmenterTest,
        more_data="Label more frames like your videos (source.labelme_train; `mosaicflow "
        "prelabel` and results/prelabel/ propose them)",
        fixed={"single_cls": False},
    ),
    "watermark": ModelKind(
        section="watermark",
        config=WatermarkConfig,
        task="detect",
        test=_test_detector,
        test_settings=DetectorTest,
        more_data="Add labelled images to the watermark set (source.watermark_dataset)",
        fixed={"copy_paste": 0.0},
    ),
    "detector": ModelKind(
        section="detector",
        config=DetectorConfig,
        task="segment",
        test=_test_mosaic_detector,
        test_settings=MosaicDetectorTest,
        more_data="Sample more frames (detection_dataset.frames_per_video) or add videos",
        fixed={"single_cls": False, "copy_paste": 0.0},
        calibrate=_calibrate_mosaic_detector,
        clean_test=_clean_mosaic_test,
    ),
}

#: The ``{model}`` wildcard's values.
MODEL_PATTERN = "|".join(MODELS)


def model_kind(name: str) -> ModelKind:
    """The table entry of ``name``; fails naming the known models."""
    if name not in MODELS:
        raise ValueError(f"unknown YOLO model {name!r} (known: {sorted(MODELS)})")
    return MODELS[name]


def model_config(name: str, section: Mapping[str, Any]) -> Any:
    """The typed config of model ``name`` from its whole (validated) schema section."""
    return build(model_kind(name).config, section)


def model_spec(name: str, params: Mapping[str, Any]) -> TrainSpec:
    """The training spec of model ``name`` from its training keys (:func:`train_params`)."""
    kind = model_kind(name)
    return spec_from_params(params, kind.task, **kind.fixed)


def _subset(name: str, section: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    missing = [key for key in keys if key not in section]
    if missing:
        raise ValueError(f"{name}: section {model_kind(name).section!r} lacks {missing}")
    return canonical({key: section[key] for key in keys})


def train_params(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of model ``name``'s section that training reads (the train rule's param)."""
    kind = model_kind(name)
    return _subset(name, config[kind.section], kind.train_keys)


def evaluate_params(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of model ``name``'s section that its test scorer reads (the evaluation rule's
    param; the segmenter's include the inference ``iou`` it scores with)."""
    kind = model_kind(name)
    return _subset(name, config[kind.section], kind.test_keys)


def train_job(name: str, config: Mapping[str, Any]) -> TrainSpec:
    """The training job of model ``name`` from the whole config."""
    return train_job_of(name, train_params(name, config))


def train_job_of(name: str, params: Mapping[str, Any]) -> TrainSpec:
    """The training job of model ``name`` from its train rule's params (:func:`train_params`:
    exactly its training keys)."""
    check_params(name, params, model_kind(name).train_keys)
    return model_spec(name, params)


def test_job(name: str, config: Mapping[str, Any]) -> Any:
    """The test job of model ``name`` from the whole config."""
    return test_job_of(name, evaluate_params(name, config))


def test_job_of(name: str, params: Mapping[str, Any]) -> Any:
    """The test job of model ``name`` (its ``test_settings``) from its evaluation rule's params
    (:func:`evaluate_params`: exactly the keys its scorer reads)."""
    kind = model_kind(name)
    check_params(name, params, kind.test_keys)
    return build(kind.test_settings, params)


def training_keys(name: str, spec: TrainSpec) -> dict[str, Any]:
    """The section keys ``spec`` was built from, as the model card records them (what
    :func:`train_params` gave)."""
    return canonical({key: getattr(spec, key) for key in model_kind(name).train_keys})


def check_params(name: str, params: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """Fail naming the model when ``params`` are not exactly ``keys``."""
    missing, unknown = sorted(set(keys) - set(params)), sorted(set(params) - set(keys))
    if missing or unknown:
        raise ValueError(f"{name}: params lack the keys {missing}, have unknown keys {unknown}")
