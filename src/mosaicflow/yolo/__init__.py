"""The YOLO models (ultralytics, offline): the region segmenter, the watermark detector and the
mosaic detector, as entries of one table, with the machinery they share.

Shared machinery:

- :mod:`~mosaicflow.yolo.models`: the one table of YOLO models (adding one = an entry) and the
  keys each rule reads; :mod:`~mosaicflow.yolo.config`: their typed config sections.
- :mod:`~mosaicflow.yolo.offline`: ultralytics set-up that never downloads or touches the
  user's global settings (call before anything imports ultralytics).
- :mod:`~mosaicflow.yolo.checkpoint`: the one place YOLO models are loaded; checkpoints pass
  ultralytics' restricted unpickler first.
- :mod:`~mosaicflow.yolo.spec`: the training spec (epochs budget, named optimizer).
- :mod:`~mosaicflow.yolo.dataset`: YOLO datasets: read, hash, mirror into the work folder.
- :mod:`~mosaicflow.yolo.fit` (with :mod:`~mosaicflow.yolo.cpu_training`): training with
  resume from ``last.pt`` and an opt-in time cap.
- :mod:`~mosaicflow.yolo.bases`: pretrained bases converted from an ONNX export.
- :mod:`~mosaicflow.yolo.export`: validation, ONNX export, reproducible weight files.
- :mod:`~mosaicflow.yolo.card`: the model card (``model.json``) and metrics.
- :mod:`~mosaicflow.yolo.scoring`: COCO mAP on test videos (every frame);
  :mod:`~mosaicflow.yolo.pr_curves` draws its precision-recall curves.
- :mod:`~mosaicflow.yolo.jobs`: the rule entry points ``train_model`` / ``evaluate_model``.

What one model adds:

- region segmenter: :mod:`~mosaicflow.yolo.infer` (per-video inference with tracking ->
  ``regions.parquet``), :mod:`~mosaicflow.yolo.prelabel` (predictions -> labelme JSON,
  ``mosaicflow prelabel``);
- watermark detector: :mod:`~mosaicflow.yolo.watermark` (the clip scorer of the dataset stage);
- mosaic detector: :mod:`~mosaicflow.yolo.mosaics` (its test score, threshold calibration and
  clean-frame rate) and :mod:`~mosaicflow.yolo.detect` (``mosaicflow detect``).

Where each model's data lies is the workflow's business (:mod:`mosaicflow.plan.yolo_models`).
Importing this package imports nothing heavy.
"""

from mosaicflow.yolo.config import RegionsConfig, WatermarkConfig

__all__ = ["RegionsConfig", "WatermarkConfig"]
