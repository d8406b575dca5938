"""The ranking measure the classifier's card and its clip scores report."""

from __future__ import annotations

import numpy as np


def auroc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve of ``score`` for ``positive`` (None with one class only)."""
    from sklearn.metrics import roc_auc_score

    positive = np.asarray(positive, bool)
    if positive.all() or not positive.any():
        return None
    return round(float(roc_auc_score(positive, score)), 4)
