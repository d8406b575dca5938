from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from mosaicflow.datasets.balance.tree import (
    BalanceError,
    Level,
    WeightRule,
    balance_table,
    bucket_repeats,
    bucket_shares,
    bucket_weight,
    leaf_probabilities,
    read_weight_rules,
    spread,
)


def seed_rules(tmp_path):
    path = tmp_path / "weights.csv"
    path.write_text("1_character, 3\nclass1, 4\n*class2, 6\n")
    return read_weight_rules(path)


def test_the_seeds_worked_example_exactly(tmp_path):
    leaves = ["1_character/class1", "1_character/class2", "others/class1", "others/class3"]
    probabilities = leaf_probabilities(leaves, seed_rules(tmp_path))
    assert probabilities == {
        "1_character/class1": Fraction(3, 10),
        "1_character/class2": Fraction(45, 100),
        "others/class1": Fraction(2, 10),
        "others/class3": Fraction(5, 100),
    }


def test_a_name_rule_wins_over_an_earlier_pattern():
    rules = [WeightRule("*b", Fraction(7)), WeightRule("b", Fraction(2))]
    assert bucket_weight("b", "a/b", rules) == 2
    assert bucket_weight("xb", "a/xb", rules) == 7
    assert bucket_weight("c", "a/c", rules) == 1


def test_bucket_listings_scale_the_smallest_item_weight_to_one_round_halves_up_and_cap():
    probabilities = {"a": Fraction(1, 2), "b": Fraction(1, 4), "c": Fraction(1, 4)}
    counts = {"a": 10, "b": 2, "c": 1}
    # per item: 1/20, 1/8, 1/4 -> a listed 10 times, b 5, c 5
    assert bucket_repeats(counts, probabilities, 250) == {"a": 10, "b": 5, "c": 5}
    assert bucket_repeats(counts, probabilities, 4) == {"a": 10, "b": 5, "c": 4}
    # per item 3/7 and 2/7: a is listed 1.5 times, rounded halves up
    assert bucket_repeats({"a": 1, "b": 2}, {"a": Fraction(3, 7), "b": Fraction(4, 7)}, 9) == {
        "a": 2,
        "b": 2,
    }


def test_spread_shares_a_buckets_listings_evenly_in_order():
    assert spread(5, 2) == [3, 2]
    assert spread(7, 3) == [3, 2, 2]
    assert spread(4, 4) == [1, 1, 1, 1]
    assert spread(0, 2) == [0, 0]


def test_repeated_list_keeps_every_bucket_near_its_target_where_rounding_per_item_would_not():
    """Buckets of 3 and 2 items at 1/2 each: rounded per item, each of b's items would be listed
    twice (1.5 rounded up: 4 listings against a's 3, 57 % for a target of 50 %); spread over the
    bucket, b's 3 listings match a's 3."""
    table = pd.DataFrame({"video": ["a", "a", "a", "b", "b"]})
    out = balance_table(table, [Level("video")])
    assert out["multiplier"].tolist() == [1, 1, 1, 2, 1]
    listed = out.groupby("bucket")["multiplier"].sum()
    assert listed.to_dict() == {"a": 3, "b": 3}


def test_zero_weight_buckets_get_no_repeats(tmp_path):
    probabilities = leaf_probabilities(["a", "b"], [WeightRule("b", Fraction(0))])
    assert probabilities == {"a": 1, "b": 0}
    assert bucket_repeats({"a": 3, "b": 3}, probabilities, 10) == {"a": 3, "b": 0}
    with pytest.raises(BalanceError, match="weight 0"):
        leaf_probabilities(["a", "b"], [WeightRule("*", Fraction(0))])


def test_binned_level_names_and_edges():
    level = Level("region_px", (32, 64))
    names = level.names(pd.Series([5, 32, 63.9, 64, 500]))
    assert list(names) == [
        "region_px<32",
        "region_px32-64",
        "region_px32-64",
        "region_px>=64",
        "region_px>=64",
    ]
    with pytest.raises(BalanceError, match="increase"):
        Level("x", (3, 1)).names(pd.Series([1]))


def test_balance_table_balances_videos_within_sizes():
    table = pd.DataFrame(
        {
            "video": ["v1"] * 6 + ["v2"] * 2 + ["v1"] * 2,
            "region_px": [10] * 8 + [100] * 2,
        }
    )
    out = balance_table(table, [Level("region_px", (50,)), Level("video")])
    # sizes share 1/2 each; within the small ones v1 and v2 share 1/4 each
    probability = out.groupby("bucket")["bucket_probability"].first().to_dict()
    assert probability == {
        "region_px<50/v1": 0.25,
        "region_px<50/v2": 0.25,
        "region_px>=50/v1": 0.5,
    }
    assert out["sample_weight"].sum() == pytest.approx(1.0)
    assert dict(zip(out["bucket"], out["multiplier"], strict=True)) == {
        "region_px<50/v1": 1,  # 1/24 per item
        "region_px<50/v2": 3,  # 1/8
        "region_px>=50/v1": 6,  # 1/4
    }
    assert list(out.columns[:2]) == ["video", "region_px"]  # the input columns are kept


def test_weighted_draws_reach_the_targets():
    table = balance_table(pd.DataFrame({"video": ["a"] * 90 + ["b"] * 9 + ["c"]}), [Level("video")])
    rng = np.random.default_rng(0)
    weights = table["sample_weight"].to_numpy()
    drawn = rng.choice(len(table), size=30000, p=weights / weights.sum())
    shares = bucket_shares(table, drawn)
    assert (shares["drawn"] - shares["target"]).abs().max() < 0.02


def test_bad_inputs_name_the_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,1\nb\n")
    with pytest.raises(BalanceError, match=r"bad.csv, line 2"):
        read_weight_rules(bad)
    bad.write_text("a,heavy\n")
    with pytest.raises(BalanceError, match=r"line 1: weight 'heavy'"):
        read_weight_rules(bad)
    with pytest.raises(BalanceError, match="lacks"):
        balance_table(pd.DataFrame({"a": [1]}), [Level("b")])
    with pytest.raises(BalanceError, match="no items"):
        leaf_probabilities([])
    with pytest.raises(BalanceError, match="depths"):
        leaf_probabilities(["a", "b/c"])
