"""Region models: the region segmenter and the watermark detector (ultralytics YOLO11, offline).

- :mod:`~mosaicflow.regions.config`: the stage configs (``regions:`` and ``watermark:``).
- :mod:`~mosaicflow.regions.offline`: ultralytics set-up that never downloads or touches the
  user's global settings (call before anything imports ultralytics).
- :mod:`~mosaicflow.regions.models`: the one table of YOLO models (adding one = an entry).
- :mod:`~mosaicflow.regions.spec`: the training spec (epochs budget, named optimizer).
- :mod:`~mosaicflow.regions.dataset`: YOLO datasets: read, hash, mirror into the work folder.
- :mod:`~mosaicflow.regions.fit`: training with resume from ``last.pt`` and an opt-in time cap.
- :mod:`~mosaicflow.regions.export`: validation, ONNX export, reproducible weight files.
- :mod:`~mosaicflow.regions.card`: the model card (``model.json``) and metrics.
- :mod:`~mosaicflow.regions.stages`: the rule entry points ``train_model`` / ``evaluate_model``.
- :mod:`~mosaicflow.regions.evaluate`: mAP on the demo world's test videos (every frame).
- :mod:`~mosaicflow.regions.infer`: per-video inference with tracking -> ``regions.parquet``.
- :mod:`~mosaicflow.regions.watermark`: the clip scorer used by the dataset stage.
- :mod:`~mosaicflow.regions.prelabel`: predictions -> labelme JSON (model-assisted labelling).

Importing this package imports nothing heavy.
"""

from mosaicflow.regions.config import RegionsConfig, WatermarkConfig

__all__ = ["RegionsConfig", "WatermarkConfig"]
