"""The mosaic detector outside the workflow: ``mosaicflow detect`` finds the pixelated regions
of a video (:mod:`.detect`). Training and testing run in the workflow as the ``detector``
entry of :data:`mosaicflow.regions.models.MODELS`.

Importing this package imports nothing heavy.
"""
