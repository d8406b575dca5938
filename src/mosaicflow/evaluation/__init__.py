"""End-to-end evaluation and the run's report material.

One job per module: :mod:`~.config` (the ``evaluate`` section), :mod:`~.restore_jobs` (rule
``restore_test_video``: restore a mosaicked test video with the trained models),
:mod:`~.scores` (PSNR/SSIM in the true mosaic mask and on the whole frame against the mosaic
input and the blur baseline, the detector's frame recall, false-positive rate and mask coverage,
the restored video's frame count, fps and audio), :mod:`~.samples` (side-by-side video and still
grid), :mod:`~.evaluate` (rule ``evaluate_restoration``: every test video -> ``evaluate.json``,
the table, the samples), :mod:`~.curves` (training-curve plots), :mod:`~.gather`
(``results/metrics.json``) and :mod:`~.metrics_diff` (``mosaicflow metrics-diff``).
"""
