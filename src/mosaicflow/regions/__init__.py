"""Region models: the region segmenter and the watermark detector (ultralytics YOLO11, offline).

- :mod:`~mosaicflow.regions.config`: the stage configs (``regions:`` and ``watermark:``).
- :mod:`~mosaicflow.regions.offline`: ultralytics set-up that never downloads or touches the
  user's global settings (call before anything imports ultralytics).
- :mod:`~mosaicflow.regions.train`: training with resume from ``last.pt``, export, sidecar.
- :mod:`~mosaicflow.regions.evaluate`: mAP on the demo world's test videos (every frame).
- :mod:`~mosaicflow.regions.infer`: per-video inference with tracking -> ``regions.parquet``.
- :mod:`~mosaicflow.regions.watermark`: the clip scorer used by the dataset stage.
- :mod:`~mosaicflow.regions.prelabel`: predictions -> labelme JSON (model-assisted labelling).

Importing this package imports nothing heavy.
"""

from mosaicflow.regions.config import RegionsConfig, WatermarkConfig

__all__ = ["RegionsConfig", "WatermarkConfig"]
