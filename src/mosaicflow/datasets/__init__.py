"""Datasets built from the videos and their regions.

- :mod:`~mosaicflow.datasets.clips`: the restoration clip dataset (scene clips cropped around the
  tracked regions, with masks, metadata, analysers and filters) and ``MosaicClipDataset``, the
  torch dataset that mosaics them on the fly.
- :mod:`~mosaicflow.datasets.detection`: the mosaic detection dataset (sampled frames with
  synthetic mosaics, COCO and YOLO-seg labels split by video) and the mosaicked test videos.

Importing this package imports nothing heavy.
"""
