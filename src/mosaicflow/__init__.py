"""mosaicflow: a reproducible data-and-training pipeline for video mosaic restoration models."""

__version__ = "0.1.0"
