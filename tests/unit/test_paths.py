"""The workflow's paths: one module, patterns with wildcards, one work-folder convention."""

from __future__ import annotations

import re

from mosaicflow.workflow import paths
from mosaicflow.yolo.models import MODEL_PATTERN, MODELS


def test_model_files_keep_the_wildcard_and_live_under_results_models():
    files = paths.model_files("{model}")
    assert files["weights"] == "results/models/{model}/best.pt"
    assert files["metrics"] == "results/metrics/{model}.json"
    assert all(path.startswith("results/") for path in files.values())


def test_work_folders_follow_one_convention():
    assert paths.work_root("region_seg") == "results/region_seg/_work"
    assert paths.scratch_dir("regions", "{video}") == "results/regions/_work/{video}"
    assert paths.log("train_model", "{model}") == "results/logs/train_model/{model}.log"
    assert paths.benchmark("gather_regions") == "results/benchmarks/gather_regions/all.tsv"


def test_model_wildcard_matches_exactly_the_table():
    assert [n for n in MODELS if re.fullmatch(MODEL_PATTERN, n)] == list(MODELS)
    assert not re.fullmatch(MODEL_PATTERN, "region_seg/x") and not re.fullmatch(MODEL_PATTERN, "")


def test_labelme_dirs_of_the_demo_and_of_user_data():
    demo = {"source": {"kind": "demo"}}
    assert paths.region_labelme_dirs(demo)["train"] == [paths.world_labelme_dir("train")]
    user = {"source": {"kind": "videos", "labelme_train": "/l/train", "labelme_val": None}}
    assert paths.region_labelme_dirs(user) == {"train": ["/l/train"]}
