"""Pretrained YOLO bases from an ultralytics ONNX export (by default the detector that ships in
the ``nudenet`` wheel).

An ultralytics ONNX export names its initializers after the modules of the PyTorch model
(``model.0.conv.weight``, ``model.0.conv.bias``, ..., ``model.22.dfl.conv.weight``), with every
batch norm folded into its conv's bias. :func:`convert_base` builds the same architecture with
ultralytics (``yolov8n.yaml`` for detection, ``yolov8n-seg.yaml`` for segmentation), copies each
conv's weight, puts the folded bias into the batch norm's bias and sets the norm to the identity
(weight 1, mean 0, variance ``1 - eps``), so the converted model computes what the ONNX model
computes. Layers whose shape differs or that the export lacks (the segmentation head's prototype
and mask-coefficient convs, the class convs for another class count) keep a seeded fresh init.
Training from the checkpoint with another class count keeps every layer whose shape matches
(ultralytics' ``intersect_dicts``), so one base serves any number of classes.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosaicflow.io import save_torch, write_json
from mosaicflow.provenance import file_hash, provenance

#: The package that ships the detector the bases are converted from.
NUDENET_PACKAGE = "nudenet"
#: The file inside the ``nudenet`` package: a YOLOv8n detector exported by ultralytics 8.2.
NUDENET_ONNX = "320n.onnx"
#: Ultralytics architecture of the base, per task.
BASE_ARCHITECTURES: Mapping[str, str] = {"detect": "yolov8n.yaml", "segment": "yolov8n-seg.yaml"}
#: Seed of the fresh init of the layers the export does not provide.
INIT_SEED = 0


@dataclass(frozen=True)
class BaseReport:
    """What :func:`convert_base` loaded."""

    task: str
    architecture: str
    names: dict[int, str]
    loaded_convs: int
    fresh: tuple[str, ...]  # modules kept at their fresh init (missing or of another shape)
    unused: tuple[str, ...] = field(default=())  # export weights the model has no place for


def nudenet_onnx() -> Path:
    """The ONNX detector inside the installed ``nudenet`` package.

    Raises:
        FileNotFoundError: naming the package and the config key when it is not installed.
    """
    spec = importlib.util.find_spec(NUDENET_PACKAGE)
    path = Path(spec.origin).parent / NUDENET_ONNX if spec and spec.origin else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"the YOLO base needs {NUDENET_ONNX} from the `nudenet` package, which is not "
            "installed in this environment (pip install nudenet==3.4.2, as pyproject.toml "
            "pins it), or set `yolo_base.onnx` to another ultralytics YOLOv8n ONNX export"
        )
    return path


def base_source(onnx: str | None) -> Path:
    """The ONNX file of the base: ``yolo_base.onnx`` when set, else nudenet's."""
    if onnx:
        path = Path(onnx)
        if not path.is_file():
            raise FileNotFoundError(f"yolo_base.onnx: no such file {path}")
        return path
    return nudenet_onnx()


def read_onnx(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The initializers (name -> numpy array) and the metadata of an ONNX file."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    return weights, {prop.key: prop.value for prop in model.metadata_props}


def export_names(metadata: Mapping[str, str], path: Path) -> dict[int, str]:
    """The class names an ultralytics export stores in its metadata."""
    try:
        names = ast.literal_eval(metadata["names"])
    except (KeyError, ValueError, SyntaxError) as err:
        raise ValueError(
            f"{path}: not an ultralytics export (no readable class names in its metadata)"
        ) from err
    return {int(k): str(v) for k, v in names.items()}


def convert_base(onnx_path: Path, task: str) -> tuple[Any, BaseReport]:
    """Build the ultralytics model of ``task`` and load the export's weights into it.

    Args:
        onnx_path: an ultralytics YOLOv8n detection export (nudenet's ``320n.onnx``).
        task: ``detect`` or ``segment``.

    Returns:
        The model (eval mode, float32) and what was loaded.

    Raises:
        ValueError: naming the file when it is not a detection export of the base
            architecture (no conv of the model found its weights).
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel, SegmentationModel

    if task not in BASE_ARCHITECTURES:
        raise ValueError(f"unknown YOLO task {task!r} (known: {sorted(BASE_ARCHITECTURES)})")
    weights, metadata = read_onnx(onnx_path)
    if metadata.get("task", "detect") != "detect":
        raise ValueError(f"{onnx_path}: a {metadata['task']!r} export, expected a detector")
    names = export_names(metadata, onnx_path)
    torch.manual_seed(INIT_SEED)
    builder = SegmentationModel if task == "segment" else DetectionModel
    model = builder(BASE_ARCHITECTURES[task], nc=len(names), verbose=False)
    model.names = dict(names)
    state = model.state_dict()
    new: dict[str, Any] = {}
    used: set[str] = set()
    loaded = 0
    for name in state:
        if name.endswith(".conv.weight") and name.replace(".conv.", ".bn.") in state:
            prefix = name[: -len(".conv.weight")]
            bias = weights.get(f"{prefix}.conv.bias")
            weight = weights.get(name)
            if weight is None or bias is None or tuple(weight.shape) != tuple(state[name].shape):
                continue
            eps = _batch_norm_eps(model, prefix)
            new[name] = torch.from_numpy(weight.copy())
            new[f"{prefix}.bn.weight"] = torch.ones_like(state[f"{prefix}.bn.weight"])
            new[f"{prefix}.bn.bias"] = torch.from_numpy(bias.copy())
            new[f"{prefix}.bn.running_mean"] = torch.zeros_like(state[f"{prefix}.bn.weight"])
            new[f"{prefix}.bn.running_var"] = torch.full_like(
                state[f"{prefix}.bn.weight"], 1.0 - eps
            )
            used |= {name, f"{prefix}.conv.bias"}
            loaded += 1
        elif name in weights and ".bn." not in name:
            if tuple(weights[name].shape) != tuple(state[name].shape):
                continue
            new[name] = torch.from_numpy(weights[name].copy())
            used.add(name)
            loaded += name.endswith(".weight")
    if not loaded:
        raise ValueError(f"{onnx_path}: none of its weights fit {BASE_ARCHITECTURES[task]}")
    model.load_state_dict(new, strict=False)
    fresh = tuple(
        dict.fromkeys(
            _module_of(name) for name in state if name not in new and "num_batches" not in name
        )
    )
    unused = tuple(sorted(n for n in weights if n.startswith("model.") and n not in used))
    report = BaseReport(task, BASE_ARCHITECTURES[task], names, loaded, fresh, unused)
    return model.float().eval(), report


def _module_of(parameter: str) -> str:
    """``model.22.proto.cv1.bn.running_var`` -> ``model.22.proto.cv1``."""
    for suffix in (".conv.weight", ".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"):
        if parameter.endswith(suffix):
            return parameter[: -len(suffix)]
    return parameter.rsplit(".", 1)[0]


def _batch_norm_eps(model: Any, prefix: str) -> float:
    module = model
    for part in prefix.split("."):
        module = getattr(module, part)
    return float(module.bn.eps)


def save_base(model: Any, report: BaseReport, target: Path) -> Path:
    """Write the model as an ultralytics checkpoint ``YOLO(target)`` loads and fine-tunes."""
    import ultralytics

    ckpt = {
        "model": model,
        "train_args": {"task": report.task, "model": report.architecture, "imgsz": 320},
        "version": ultralytics.__version__,
        "license": "AGPL-3.0",
    }
    return save_torch(ckpt, target)


def source_record(onnx_path: Path, metadata: Mapping[str, str]) -> dict[str, Any]:
    """Where the base's weights come from, for its card."""
    record: dict[str, Any] = {
        "onnx": onnx_path.name,
        "sha256": file_hash(onnx_path, length=64),
        "exported_by": f"ultralytics {metadata.get('version', '?')}",
        "licence": metadata.get("license", "unknown"),
        "imgsz": metadata.get("imgsz"),
    }
    try:
        installed = importlib.metadata.distribution("nudenet")
    except importlib.metadata.PackageNotFoundError:
        return record
    if Path(installed.locate_file("nudenet")) == onnx_path.parent:
        record["package"] = f"nudenet {installed.version}"
        record["package_licence"] = installed.metadata.get("License")
    return record


def write_bases(
    onnx_path: Path, targets: Mapping[str, Path], card: Path, *, code: str
) -> dict[str, Any]:
    """Rule ``convert_yolo_base``: one checkpoint per task in ``targets`` and their card.

    Args:
        onnx_path: the export (``yolo_base.onnx`` or nudenet's).
        targets: task -> checkpoint path.
        card: the card's path (``model.json``): source, licence, what each base loaded.
        code: the rule's code hash.
    """
    _, metadata = read_onnx(onnx_path)
    bases: dict[str, Any] = {}
    for task, target in targets.items():
        model, report = convert_base(onnx_path, task)
        save_base(model, report, Path(target))
        bases[task] = {
            "weights": str(target),
            "sha256": file_hash(target, length=64),
            "architecture": report.architecture,
            "loaded_convs": report.loaded_convs,
            "fresh_modules": list(report.fresh),
        }
    record = provenance(
        config={task: BASE_ARCHITECTURES[task] for task in targets},
        code=code,
        inputs={"onnx": onnx_path},
        extra={
            "source": source_record(onnx_path, metadata),
            "names": {str(k): v for k, v in export_names(metadata, onnx_path).items()},
            "bases": bases,
        },
    )
    write_json(card, record)
    return record
