"""Inspection of a run's datasets in FiftyOne (``mosaicflow inspect``)."""
