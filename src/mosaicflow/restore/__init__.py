"""Mosaic restoration: BasicVSR++ generator, SPyNet, U-Net discriminator, losses, weight loading.

Import the submodules you need (``mosaicflow.restore.basicvsrpp``, ``.losses``, ...); importing
``mosaicflow.restore.models`` registers every network and loss with mmengine's ``MODELS``.
This package module itself imports nothing heavy.
"""
