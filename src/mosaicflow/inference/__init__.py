"""Restore a whole video: detect the mosaic, cut clips, restore them, blend them back.

One job per module: :mod:`~.protocols` (the detector and restorer interfaces),
:mod:`~.tracks` (instances grouped into tracks and cut into clips), :mod:`~.crop` (crops with an
aspect-preserving pad and back), :mod:`~.blend` (feathered pasting), :mod:`~.canvas` (a frame's
composite, kept in the window the blends touch), :mod:`~.video_io` (streaming decode, encode and
audio remux), :mod:`~.detector` and :mod:`~.restorer` (the YOLO and BasicVSR++ defaults),
:mod:`~.masks` (the per-frame detections as ``regions.parquet`` rows), :mod:`~.stages` (a chain
of stages in overlapping threads), :mod:`~.pipeline` (:func:`~.pipeline.restore_video`) and
:mod:`~.cli` (``mosaicflow restore``).
"""
