"""The source-quality classifier scores on CUDA as it does on the CPU; skipped without CUDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mosaicflow.quality.classes import CLASSES
from mosaicflow.quality.model import QualityNet
from mosaicflow.quality.score import QualityScorer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available"),
]


def test_scores_on_cuda_match_the_cpu(tmp_path):
    torch.manual_seed(0)
    net = QualityNet(len(CLASSES), 16)
    for module in net.modules():  # running statistics away from the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    weights = tmp_path / "quality.pt"
    saved = {"classes": list(CLASSES), "crop": 48, "width": 16, "combine": "min"}
    torch.save({**saved, "state_dict": net.state_dict()}, weights)
    frame = np.random.default_rng(1).integers(0, 256, (120, 200, 3), dtype=np.uint8)
    cpu = QualityScorer(weights).crop_probabilities(frame)
    gpu = QualityScorer(weights, device="cuda").crop_probabilities(frame)
    assert cpu.shape == gpu.shape == (6, len(CLASSES))
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)
