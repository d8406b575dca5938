"""The simulated review rounds hand out each round's ranking, so its figures can be resampled."""

from __future__ import annotations

import pytest

from mosaicflow.bootstrap import average_precision_interval
from mosaicflow.curate.clip_ranking import review_round_scores, simulate_review
from tests.unit.curate.test_clip_ranking import CONFIG, synthetic


def test_each_rounds_scores_give_its_average_precision():
    table = synthetic()
    rounds = list(review_round_scores(table, k=20, rounds=2, config=CONFIG, seed=0))
    assert [record for record, _ in rounds] == simulate_review(
        table, k=20, rounds=2, config=CONFIG, seed=0
    )
    truth = table["truth_false"].to_numpy() > 0.5
    for record, score in rounds:
        assert len(score) == len(table)
        interval = average_precision_interval(truth, score)
        assert interval.value == pytest.approx(record["average_precision"], abs=1e-6)
        assert interval.low <= interval.value <= interval.high
