"""Mosaic restoration: BasicVSR++ generator, SPyNet, U-Net discriminator, losses, weight loading,
and its two-stage training.

Networks: ``basicvsrpp``, ``spynet``, ``discriminator``, ``layers``; ``models`` registers every
network and loss with mmengine's ``MODELS``. Training: ``stage1`` and ``stage2`` are the two
stages (a :class:`~mosaicflow.restore.loop.TrainingStage` each), ``loop`` the one loop that runs
them, with ``sampling`` (iteration-indexed batches), ``checkpoint`` (resumable ``last.pt``) and
``records`` (history, scalars, results); ``export`` converts and exports; ``jobs`` holds the
rules' entry points. Import the submodules you need: this package module imports nothing heavy.
"""
