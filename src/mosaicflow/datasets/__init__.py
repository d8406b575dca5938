"""Datasets built from the videos and their regions.

- :mod:`~mosaicflow.datasets.clips`: the restoration clip dataset (scene clips cropped around the
  tracked regions, with masks, metadata, analysers and filters) and ``MosaicClipDataset``, the
  torch dataset that mosaics them on the fly.

Importing this package imports nothing heavy.
"""
