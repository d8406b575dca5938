"""Sampling weights of the demo run: the streams the trainers would draw reach every bucket's
target. The demo trains unbalanced (``balance.detector`` / ``balance.restoration`` off), so this
reads the weights its balance rules wrote and draws with the trainers' own samplers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mosaicflow.config import build, validate_config
from mosaicflow.datasets.balance.tree import SEP, bucket_shares
from mosaicflow.restore.sampling import WeightedIterationBatchSampler
from tests.helpers import REPO

pytestmark = [pytest.mark.workflow, pytest.mark.demo]

#: Issue bar: every bucket's share of the sampled stream within 2 % (absolute) of its target.
SHARE_TOLERANCE = 0.02
DRAWS = 40_000


def demo_config() -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_config(config)
    return config


def shares_by_level(table: pd.DataFrame, drawn: np.ndarray) -> list[pd.DataFrame]:
    """Target against drawn share of the buckets at every depth of the tree (the leaves last)."""
    leaves = table.groupby("bucket")["bucket_probability"].first()
    out = []
    for depth in range(1, int(table["bucket"].str.count(SEP).max()) + 2):

        def cut(paths: pd.Series, depth: int = depth) -> pd.Series:
            return paths.str.split(SEP).str[:depth].str.join(SEP)

        targets = leaves.groupby(cut(leaves.index.to_series())).sum()
        shares = pd.Series(cut(table["bucket"]).to_numpy()[drawn]).value_counts(normalize=True)
        out.append(pd.DataFrame({"target": targets, "drawn": shares}).fillna(0.0))
    return out


def test_restoration_sampler_draws_each_bucket_at_its_target(demo_results):
    from mosaicflow.datasets.clips.index import read_index
    from mosaicflow.datasets.clips.torch_dataset import MosaicClipDataset
    from mosaicflow.mosaic.config import MosaicConfig
    from mosaicflow.restore.jobs import clip_weights

    config = demo_config()
    index_path = demo_results / "restoration_dataset" / "index.parquet"
    train = MosaicClipDataset(
        read_index(index_path), index_path.parent, num_frames=5, size=64,
        mosaic_cfg=build(MosaicConfig, config["mosaic"]), seed=0, train=True, split="train",
    )  # fmt: skip
    balance = demo_results / "balance" / "clips" / "weights.parquet"
    weights = clip_weights(train, balance)
    table = pd.read_parquet(balance).set_index("clip").loc[list(train.rows["clip"])]
    sampler = WeightedIterationBatchSampler(weights, 4, config["seed"], 0, DRAWS // 4)
    drawn = np.array([i for batch in sampler for i in batch])
    report = shares_by_level(table.reset_index(), drawn)
    for level in report:
        print(level.round(4).to_string())
        assert (level["drawn"] - level["target"]).abs().max() <= SHARE_TOLERANCE
    leaves = bucket_shares(table.reset_index(), drawn)  # the package's own summary
    assert (leaves["drawn"] - leaves["target"]).abs().max() <= SHARE_TOLERANCE


def test_detector_list_repeats_each_bucket_near_its_target(demo_results):
    weights = pd.read_parquet(demo_results / "balance" / "detection" / "weights.parquet")
    samples = pd.read_parquet(demo_results / "detection_dataset" / "samples.parquet")
    assert sorted(weights["image"]) == sorted(samples.loc[samples["split"] == "train", "image"])
    # the repeated list, shuffled each epoch by ultralytics: its positions are the stream
    drawn = np.repeat(np.arange(len(weights)), weights["multiplier"].to_numpy())
    report = shares_by_level(weights, drawn)
    for level in report:
        print(level.round(4).to_string())
        assert (level["drawn"] - level["target"]).abs().max() <= SHARE_TOLERANCE
    # the table a user reads agrees with the weights: items, target and repeated share per bucket
    buckets = pd.read_csv(demo_results / "balance" / "detection" / "buckets.tsv", sep="\t")
    assert buckets["probability"].sum() == pytest.approx(1.0, abs=1e-4)
    per_bucket = weights.groupby("bucket")
    listed = buckets.set_index("bucket")
    assert sorted(listed.index) == sorted(per_bucket.groups)
    assert (listed["items"] == per_bucket.size()).all()
    target = per_bucket["bucket_probability"].first()
    assert (listed["probability"] - target).abs().max() <= 1e-6
    repeated = per_bucket["multiplier"].sum() / weights["multiplier"].sum()
    assert (listed["repeated_share"] - repeated).abs().max() <= 1e-6
